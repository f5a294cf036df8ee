// @ts-check
// `npm run lint`: typescript-eslint's recommended type-checked rules over every TypeScript file,
// with type information from tsconfig.check.json (the program `npm run typecheck` checks: sources
// and tests, @veriflow/* resolved to source). Each rule turned off or tuned says why.
import { defineConfig, globalIgnores } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  globalIgnores(["**/dist/", "**/generated/", "data/", "docs/"]),
  {
    files: ["**/*.ts", "web/dashboard/src/**/*.tsx"],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: "./tsconfig.check.json", tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // A promise nobody awaits loses its rejection; a promise where a callback's void is
      // expected (an event handler, a timer) does too. Fire-and-forget is spelled `void` and
      // handles its own errors.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      // `any` is this codebase's deliberate type for JSON it only reads to display or assert on
      // (the CLI's rendering of REST answers, Job.result), and what Koa (ctx.state) and ethers
      // (contract methods) hand back; data that is acted on is parsed with zod at the boundary
      // (libs/events, the config loaders). Flagging every read of such a value would mean a cast
      // per line without checking anything the schemas don't.
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      // Handlers, deps and clients are object literals of closures (createHandlers(deps) →
      // { onX }), passed around unbound by design; none of them uses `this`.
      "@typescript-eslint/unbound-method": "off",
      // A leading underscore names what is unused on purpose: a callback's ignored parameter,
      // fields dropped from a rest object (`{ time: _t, ...rest }`).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_", ignoreRestSiblings: true },
      ],
      // A CID's string form is its canonical form: interpolating one is the point. (`allow`
      // replaces the default list, repeated here.)
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        {
          allow: [
            { from: "lib", name: ["Error", "URL", "URLSearchParams"] },
            { from: "package", name: "CID", package: "multiformats" },
          ],
        },
      ],
    },
  },
  {
    // The dashboard's browser code is its own program (DOM types, Preact's JSX): the same rules,
    // with type information from web/dashboard/tsconfig.json.
    files: ["web/dashboard/src/**/*.ts", "web/dashboard/src/**/*.tsx"],
    languageOptions: {
      parserOptions: { project: "./web/dashboard/tsconfig.json", tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    files: ["**/*.test.ts", "**/*.fixture.ts", "tests/**/*.ts"],
    rules: {
      // Fakes implement async interfaces with `async` functions that have nothing to await.
      "@typescript-eslint/require-await": "off",
    },
  },
);
