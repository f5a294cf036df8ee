/**
 * Generates the published event contract: one JSON Schema (draft 2020-12) per event type,
 * envelope and data together, plus the bare envelope, into docs/events/. The zod catalog
 * is the source; descriptions come from its doc comments, read with the TypeScript parser.
 *
 *   tsx libs/events/scripts/generate-json-schemas.ts          write docs/events/*.schema.json
 *   tsx libs/events/scripts/generate-json-schemas.ts --check  exit 1 if the files are stale
 */
import { readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";
import { z } from "zod";
import * as catalog from "../src/catalog.js";
import { envelopeShape } from "../src/envelope.js";
import { RegistryChangedEnvelope } from "../src/registry-events.js";
import { REGISTRY_ROOT, REGISTRY_STREAM } from "../src/topology.js";

type EventType = catalog.EventType;
const { eventSchemas, eventTypes } = catalog;

export const SCHEMAS_DIR = fileURLToPath(new URL("../../../docs/events/", import.meta.url));
const SRC = new URL("../src/", import.meta.url);

export const schemaId = (name: string) => `urn:veriflow:schema:${name}`;
export const schemaFileName = (name: EventType | "envelope" | "registry.changed") => `${name}.schema.json`;

/** Envelope fields the interface leaves undocumented: what a subscriber needs to know. */
const envelopeNotes: Record<string, string> = {
  id: "The event's unique id, also sent as the `ce-id` and `Nats-Msg-Id` headers. Derived from the cause's id, so a redelivered input republishes the same id: deduplicate on it.",
  type: "The event type, also the `ce-type` header and the second token of the subject.",
  occurredAt: "When the event was created (RFC 3339 with offset), also the `ce-time` header.",
  data: "The event's payload; its schema depends on `type`.",
};

type Meta = { id?: string; description?: string };

/** The text of the `/** … *\/` comment right before a node, as one line; undefined without one. */
function docOf(node: ts.Node, text: string): string | undefined {
  const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
  const doc = ranges.map((r) => text.slice(r.pos, r.end)).filter((c) => c.startsWith("/**")).at(-1);
  if (!doc) return undefined;
  return doc
    .replace(/^\/\*\*|\*\/$/g, "")
    .split("\n")
    .map((l) => l.replace(/^\s*\*\s?/, "").trim())
    .filter(Boolean)
    .join(" ");
}

function parse(file: string) {
  const text = readFileSync(new URL(file, SRC), "utf8");
  return { text, source: ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true) };
}

/** The object literal a schema expression is built from: z.object({…}), X.extend({…}), {…} as const, z.object({…}).refine(…). */
function objectLiteralOf(expr: ts.Expression): ts.ObjectLiteralExpression | undefined {
  if (ts.isAsExpression(expr) || ts.isSatisfiesExpression(expr)) return objectLiteralOf(expr.expression);
  // A refinement keeps its object's shape (zod 4): its fields' comments are the object's.
  if (ts.isCallExpression(expr) && ts.isPropertyAccessExpression(expr.expression) && expr.expression.name.text === "refine") return objectLiteralOf(expr.expression.expression);
  if (ts.isObjectLiteralExpression(expr)) return expr;
  if (ts.isCallExpression(expr) && ts.isPropertyAccessExpression(expr.expression) && ["object", "extend"].includes(expr.expression.name.text)) {
    const arg = expr.arguments[0];
    return arg && ts.isObjectLiteralExpression(arg) ? arg : undefined;
  }
  return undefined;
}

const shapeOf = (s: unknown): Record<string, z.ZodType> | undefined =>
  s instanceof z.ZodObject ? s.shape : undefined;

/** Records each documented property of an object literal against the schema it built. */
function describeProperties(obj: ts.ObjectLiteralExpression, text: string, fields: Record<string, unknown>, reg: z.core.$ZodRegistry<Meta>) {
  for (const prop of obj.properties) {
    if (!ts.isPropertyAssignment(prop) || !prop.name) continue;
    const key = ts.isStringLiteral(prop.name) || ts.isIdentifier(prop.name) ? prop.name.text : undefined;
    const schema = key === undefined ? undefined : fields[key];
    if (!(schema instanceof z.ZodType)) continue;
    const description = docOf(prop, text);
    if (description && !reg.has(schema)) reg.add(schema, { description });
    const inner = objectLiteralOf(prop.initializer);
    const shape = shapeOf(schema);
    if (inner && shape) describeProperties(inner, text, shape, reg);
  }
}

/**
 * A registry of descriptions (and, for the catalog's named building blocks, $defs ids):
 * every exported schema and every property that has a doc comment in catalog.ts.
 */
export function readDescriptions(): z.core.$ZodRegistry<Meta> {
  const reg = z.registry<Meta>();
  const { text, source } = parse("catalog.ts");
  const exported = catalog as Record<string, unknown>;
  for (const stmt of source.statements) {
    if (!ts.isVariableStatement(stmt)) continue;
    for (const decl of stmt.declarationList.declarations) {
      if (!ts.isIdentifier(decl.name) || !decl.initializer) continue;
      const name = decl.name.text;
      const value = exported[name];
      const obj = objectLiteralOf(decl.initializer);
      if (name === "eventSchemas" && obj) {
        describeProperties(obj, text, eventSchemas, reg);
      } else if (value instanceof z.ZodObject) {
        // Named object shapes become $defs, so a subscriber's code generator names them too.
        reg.add(value, { id: name, ...(docOf(stmt, text) ? { description: docOf(stmt, text)! } : {}) });
        if (obj) describeProperties(obj, text, value.shape, reg);
      } else if (value instanceof z.ZodType && docOf(stmt, text)) {
        reg.add(value, { description: docOf(stmt, text)! });
      }
    }
  }
  return reg;
}

/** The Envelope interface's doc comments: the envelope's and its fields'. */
function envelopeDocs(): { description: string; fields: Record<string, string> } {
  const { text, source } = parse("envelope.ts");
  const iface = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === "Envelope");
  const fields: Record<string, string> = { ...envelopeNotes };
  for (const m of iface?.members ?? []) {
    const doc = docOf(m, text);
    if (doc && m.name && ts.isIdentifier(m.name)) fields[m.name.text] = doc;
  }
  return { description: (iface && docOf(iface, text)) ?? "A veriflow event.", fields };
}

function toJsonSchema(schema: z.ZodType, reg: z.core.$ZodRegistry<Meta>, head: { id: string; title: string; description: string }) {
  // io "input": what a message on the wire may hold. Fields added later with a default
  // (request.callbackUrl) are optional, and unknown fields are allowed (additive changes).
  const { $schema, ...body } = z.toJSONSchema(schema, { target: "draft-2020-12", io: "input", metadata: reg, unrepresentable: "throw" });
  return { $schema, $id: head.id, title: head.title, description: head.description, ...body };
}

/** Every schema file: name → JSON Schema object. Deterministic (no timestamps). */
export function buildEventJsonSchemas(): Record<string, Record<string, unknown>> {
  const reg = readDescriptions();
  const env = envelopeDocs();
  for (const [field, description] of Object.entries(env.fields)) {
    const schema = envelopeShape.shape[field as keyof typeof envelopeShape.shape];
    if (schema && !reg.has(schema)) reg.add(schema, { description });
  }
  const files: Record<string, Record<string, unknown>> = {
    [schemaFileName("envelope")]: toJsonSchema(envelopeShape.required({ data: true }), reg, {
      id: schemaId("envelope"),
      title: "veriflow event envelope",
      description: `${env.description} Every message on the VERIFLOW stream matches this schema; its \`data\` matches the schema of its \`type\`.`,
    }),
  };
  for (const type of eventTypes) {
    const eventDoc = reg.get(eventSchemas[type])?.description ?? "";
    const literal = z.literal(type);
    reg.add(literal, { description: envelopeNotes.type! });
    const schema = envelopeShape.extend({ type: literal, data: eventSchemas[type] });
    files[schemaFileName(type)] = toJsonSchema(schema, reg, {
      id: schemaId(`event:${type}`),
      title: `veriflow event ${type}`,
      description: `${eventDoc} Published on subject veriflow.${type}.<jobId> of stream VERIFLOW.`.trim(),
    });
  }
  // registry.changed belongs to no job: its envelope has no correlation, run or tenant, and its own stream.
  files[schemaFileName("registry.changed")] = toJsonSchema(RegistryChangedEnvelope, reg, {
    id: schemaId("event:registry.changed"),
    title: "veriflow event registry.changed",
    description: `${reg.get(catalog.RegistryChanged)?.description ?? ""} Published on subject ${REGISTRY_ROOT}.changed.<registry address> of stream ${REGISTRY_STREAM}.`.trim(),
  });
  return files;
}

/** Every schema file as the text written to docs/events. */
export function renderEventJsonSchemas(): Record<string, string> {
  return Object.fromEntries(Object.entries(buildEventJsonSchemas()).map(([name, s]) => [name, `${JSON.stringify(s, null, 2)}\n`]));
}

/** Files in docs/events that differ from, are missing from, or are not in the generated set. */
export async function findStaleSchemaFiles(dir = SCHEMAS_DIR): Promise<string[]> {
  const expected = renderEventJsonSchemas();
  const present = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(".schema.json"));
  const stale = present.filter((f) => !(f in expected));
  for (const [name, text] of Object.entries(expected)) {
    const current = await readFile(new URL(name, pathToFileURL(dir)), "utf8").catch(() => undefined);
    if (current !== text) stale.push(name);
  }
  return stale.sort();
}

async function main(argv: string[]) {
  const rel = "docs/events";
  if (argv.includes("--check")) {
    const stale = await findStaleSchemaFiles();
    if (stale.length) {
      console.error(`${rel} is stale (${stale.join(", ")}): run \`npm run generate:event-schemas\` and commit the result`);
      process.exit(1);
    }
    console.log(`${rel} is up to date`);
    return;
  }
  await mkdir(SCHEMAS_DIR, { recursive: true });
  const files = renderEventJsonSchemas();
  for (const f of await readdir(SCHEMAS_DIR)) if (f.endsWith(".schema.json") && !(f in files)) await rm(new URL(f, pathToFileURL(SCHEMAS_DIR)));
  for (const [name, text] of Object.entries(files)) await writeFile(new URL(name, pathToFileURL(SCHEMAS_DIR)), text);
  console.log(`wrote ${Object.keys(files).length} schemas to ${rel}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
