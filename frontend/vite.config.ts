/// <reference types="vitest/config" />
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'
import { openapiDocument } from './plugins/openapi-document.ts'

// The build output is served by the Worker as Workers Static Assets (wrangler.toml [assets]).
// Hashed files live under /assets/ and are served straight from the asset store; every other path
// goes through the Worker, which adds the document CSP (src/http/document.rs). The API's OpenAPI
// document is shipped here too (dist/openapi.json) and served by the Worker at /openapi.json.
export default defineConfig({
  plugins: [react(), openapiDocument(fileURLToPath(new URL('../openapi/openapi.json', import.meta.url)))],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    sourcemap: false,
    // No inline scripts or data: URLs: the CSP is script-src 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    // `npm run dev` in frontend/ proxies the API to a running `wrangler dev`.
    proxy: { '/v1': 'http://127.0.0.1:8787', '/.well-known': 'http://127.0.0.1:8787', '/openapi.json': 'http://127.0.0.1:8787' },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}', 'plugins/**/*.test.ts'],
    restoreMocks: true,
    // Tests replace the network with vi.stubGlobal('fetch', …); undo it after each test.
    unstubGlobals: true,
  },
})
