// RemoteDataset: `query` and `compare` run by the server (`POST /api/query`,
// `/api/compare`) over one of its sources, answering what `Dataset.query` and
// `Dataset.compare` answer for the same spec over the same rows (heatmap counts as
// `Uint32Array`s, as the wasm `Dataset` gives them). For data too large to load into
// the page; no DOM needed, so it works in workers and Node too.

/** An error the server gave for a request: the engine's message, with the status and
 * the column, operator or parameter it names when it names one. */
export class RemoteError extends Error {
  constructor(message, { status, kind, column, operator, offset, parameter } = {}) {
    super(message);
    this.name = 'RemoteError';
    this.status = status;
    this.kind = kind;
    this.column = column;
    this.operator = operator;
    this.offset = offset;
    this.parameter = parameter;
  }
}

/** A JSON text of `value`, with BigInts (IDs above 2^53) as their decimal strings,
 * which the engine reads as exact integers (as the wasm `Dataset` does). */
function toJson(value) {
  return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
}

export class RemoteDataset {
  #source;
  #baseUrl;
  #fetchInit;

  /**
   * @param {string} [source] the server's source (`/api/sources`); its default when omitted
   * @param {{ baseUrl?: string, fetchInit?: RequestInit }} [options] where the server is
   *   (default: this page's origin) and what every request carries (headers such as
   *   `Authorization`, `credentials`, a `signal`)
   */
  constructor(source, { baseUrl = '', fetchInit = {} } = {}) {
    this.#source = source;
    this.#baseUrl = baseUrl.replace(/\/$/, '');
    this.#fetchInit = fetchInit;
  }

  /** The source's name, as given. */
  get source() {
    return this.#source;
  }

  async #post(path, spec) {
    const init = this.#fetchInit;
    const res = await fetch(this.#baseUrl + path, {
      ...init,
      method: 'POST',
      headers: { ...(init.headers ?? {}), 'Content-Type': 'application/json' },
      body: toJson({ source: this.#source, spec }),
    });
    const text = await res.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      throw new RemoteError(`${path}: ${res.status} ${text.slice(0, 200)}`, { status: res.status });
    }
    if (!res.ok) throw new RemoteError(body.error ?? `${path}: ${res.status}`, { status: res.status, ...body });
    return body;
  }

  /** Runs a query spec on the server: resolves what `Dataset.query(spec)` returns. */
  async query(spec) {
    const r = await this.#post('/api/query', spec);
    for (const h of [...(r.heatmaps ?? []), ...(r.previous?.heatmaps ?? [])]) {
      h.counts = Uint32Array.from(h.counts);
      h.low = Uint32Array.from(h.low);
    }
    return r;
  }

  /** Runs a comparison spec on the server: resolves what `Dataset.compare(spec)` returns. */
  async compare(spec) {
    return this.#post('/api/compare', spec);
  }
}
