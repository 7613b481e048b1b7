import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// Tauri loads the built files from dist/ (custom protocol) or this dev server (devUrl).
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  server: { port: 5173, strictPort: true, host: "localhost" },
  build: {
    target: "safari16",
    outDir: "dist",
    emptyOutDir: true,
    // One CSS file and no inline scripts or styles: the CSP allows 'self' only.
    cssCodeSplit: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
