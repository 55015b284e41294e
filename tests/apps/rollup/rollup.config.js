// Rollup's usual setup: node-resolve for packages, ES modules out. Nothing for Sightline.
import { nodeResolve } from '@rollup/plugin-node-resolve';

export default {
  input: 'src/main.js',
  output: { dir: 'dist', format: 'es' },
  plugins: [nodeResolve()],
};
