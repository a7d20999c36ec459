// The console is built into gui/dist, which the pipy binary embeds at build
// time (sidecar/pipy/build.rs): every asset comes from pipy itself.
import { defineConfig } from 'vite'

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    // One script and one stylesheet: few requests, nothing fetched elsewhere.
    cssCodeSplit: false,
    chunkSizeWarningLimit: 1024,
  },
})
