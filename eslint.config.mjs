// Lint rules: typescript-eslint's recommended set, plus the project's own conventions.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", ".build/", "node_modules/", "examples/*/node_modules/", "examples/*/out/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `require` is deliberate where modules must load after Pulumi mocks or lazily (closure capture
      // needs CommonJS modules in require.cache).
      "@typescript-eslint/no-require-imports": "off",
      // Tests read recorded resource inputs, which are untyped by nature.
      "@typescript-eslint/no-explicit-any": "off",
      // tsc's noUnusedLocals/noUnusedParameters already report these, with `_` prefixes allowed.
      "@typescript-eslint/no-unused-vars": "off",
    },
  },
);
