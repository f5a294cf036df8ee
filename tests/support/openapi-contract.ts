import type { ValidateFunction } from "ajv/dist/2020.js";
import { createOpenApiAjv } from "../../libs/api/src/openapi-ajv.fixture.js";

/** A real answer, as a client read it. */
export interface Answer {
  status: number;
  headers: Headers;
  /** Parsed JSON for a JSON answer, else the text. */
  body: unknown;
}

/** Which part of the document an answer is judged by: an operation, or a response of components (an unknown path or method). */
export type Judged = { path: string; method: string } | { component: "NotFound" | "MethodNotAllowed" };

/** The status of each response of components that answers requests outside the operations. */
const COMPONENT_STATUS = { NotFound: 404, MethodNotAllowed: 405 } as const;

/**
 * Judges real answers by an OpenAPI document: the status must be listed for the operation, the
 * body must validate against that response's schema for its content type (ajv, JSON Schema
 * 2020-12), and each header the response declares must be sent when required and valid when sent.
 */
export function createContractJudge(doc: any) {
  const { validatorAt } = createOpenApiAjv(doc);
  const compiled = new Map<string, ValidateFunction>();
  const validator = (path: string[]) => {
    const key = JSON.stringify(path);
    let v = compiled.get(key);
    if (!v) compiled.set(key, (v = validatorAt(path)));
    return v;
  };
  const deref = (node: any): any => (typeof node?.$ref === "string" ? deref(node.$ref.slice(2).split("/").reduce((n: any, k: string) => n?.[k.replaceAll("~1", "/").replaceAll("~0", "~")], doc)) : node);

  /** The problems of one answer; empty when it keeps the contract. */
  return function judge(judged: Judged, answer: Answer): string[] {
    let base: string[];
    let response: any;
    if ("component" in judged) {
      base = ["components", "responses", judged.component];
      response = doc.components.responses[judged.component];
      const expected = COMPONENT_STATUS[judged.component];
      if (answer.status !== expected) return [`answered ${answer.status} where the document's ${judged.component} is ${expected}`];
    } else {
      const op = doc.paths[judged.path]?.[judged.method];
      if (!op) return [`the document has no operation ${judged.method.toUpperCase()} ${judged.path}`];
      base = ["paths", judged.path, judged.method, "responses", String(answer.status)];
      response = op.responses[String(answer.status)];
      if (!response) return [`${judged.method.toUpperCase()} ${judged.path} answered ${answer.status}, a status the document does not list (it lists ${Object.keys(op.responses).join(", ")})`];
    }
    const problems: string[] = [];
    const where = base.slice(1).join(" ");
    if (typeof response.$ref === "string") base = response.$ref.slice(2).split("/");
    response = deref(response);
    const content = response.content as Record<string, unknown> | undefined;
    if (content) {
      const type = (answer.headers.get("content-type") ?? "").split(";")[0]!.trim();
      if (!(type in content)) problems.push(`${where}: content type "${type}", the document has ${Object.keys(content).join(", ")}`);
      else {
        const validate = validator([...base, "content", type, "schema"]);
        if (!validate(answer.body)) problems.push(`${where}: the body does not validate: ${JSON.stringify(validate.errors?.slice(0, 5))} body=${JSON.stringify(answer.body).slice(0, 600)}`);
      }
    }
    for (const [name, declared] of Object.entries((response.headers ?? {}) as Record<string, any>)) {
      const header = deref(declared);
      const value = answer.headers.get(name);
      if (value === null) {
        if (header.required) problems.push(`${where}: required header ${name} is missing`);
        continue;
      }
      const ajvPath = typeof declared.$ref === "string" ? [...declared.$ref.slice(2).split("/"), "schema"] : [...base, "headers", name, "schema"];
      const validate = validator(ajvPath);
      if (!validate(value)) problems.push(`${where}: header ${name}: ${JSON.stringify(value)} does not validate: ${JSON.stringify(validate.errors)}`);
    }
    return problems;
  };
}
