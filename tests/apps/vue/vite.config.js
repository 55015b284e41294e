// The documented Vue setup for custom elements: tell the template compiler which tags are
// not Vue components. Nothing else for Sightline.
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

export default defineConfig({
  plugins: [vue({ template: { compilerOptions: { isCustomElement: (tag) => tag.startsWith('sightline-') } } })],
});
