import { defineConfig } from 'vite'
import { svelte } from '@sveltejs/vite-plugin-svelte'

// The server sends `script-src 'self'`: no inline scripts, so the module preload
// polyfill (an inline helper in some setups) is turned off and everything is a file.
export default defineConfig({
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/graphql': 'http://127.0.0.1:8080',
      '/avatars': 'http://127.0.0.1:8080',
    },
  },
})
