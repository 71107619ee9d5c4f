// vite.config.ts - cairn's UI bundle: one hashed JS and CSS file under assets/,
// an index.html that names them; `cairn server` serves the directory.
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "/",
  build: {
    outDir: process.env.CAIRN_UI_OUT ?? "../build/ui",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
