import { OpenAPIRegistry, OpenApiGeneratorV31 } from "@asteasolutions/zod-to-openapi";
import { errorCatalog, type ErrorCode } from "@veriflow/errors";
import { ErrorBody, codesByStatus, errorBodyOf } from "./errors.js";
import { ANY_REQUEST_ERRORS, KEYED_ROUTE_ERRORS, apiRoutes, pathParamsOf, type ApiRoute, type ResponseHeader } from "./routes.js";

/** `/api/webhooks/:id` as OpenAPI writes it: `/api/webhooks/{id}`. */
export const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

const SECURITY_SCHEMES = { ApiKey: "ApiKey", Bearer: "BearerKey" } as const;
/** Statuses whose answer always says when to come back. */
const RETRY_AFTER_STATUSES = new Set([429, 503, 507]);
/** Whoever has a key may be answered these on an unknown path or method (not an operation of their own). */
const UNROUTED: Record<string, { status: number; code: ErrorCode; description: string }> = {
  NotFound: { status: 404, code: "E_NOT_FOUND", description: "No route for this path (any method): the answer of every path this document does not list." },
  MethodNotAllowed: { status: 405, code: "E_METHOD_NOT_ALLOWED", description: "A method this path does not take (`Allow` lists those it takes); OPTIONS answers 200 with `Allow`." },
};

const RESPONSE_HEADERS: Record<ResponseHeader | "RetryAfter" | "RateLimitLimit" | "RateLimitRemaining" | "RateLimitReset" | "RateLimitPolicy" | "RequestId" | "Allow", { name: string; description: string; schema: Record<string, unknown> }> = {
  Location: { name: "Location", description: "Where the resource is read.", schema: { type: "string" } },
  IdempotentReplayed: { name: "Idempotent-Replayed", description: "`true` when this is the answer of an earlier request with the same `Idempotency-Key`.", schema: { type: "string", enum: ["true"] } },
  VeriflowMode: { name: "x-veriflow-mode", description: "`fallback` when the queue was down and the gateway verified in-process.", schema: { type: "string", enum: ["fallback"] } },
  RetryAfter: { name: "Retry-After", description: "Seconds to wait before sending again.", schema: { type: "string", pattern: "^[0-9]+$" } },
  RateLimitLimit: { name: "RateLimit-Limit", description: "The budget of the current window (when rate limits are on).", schema: { type: "string", pattern: "^[0-9]+$" } },
  RateLimitRemaining: { name: "RateLimit-Remaining", description: "What is left of it.", schema: { type: "string", pattern: "^[0-9]+$" } },
  RateLimitReset: { name: "RateLimit-Reset", description: "Seconds until the window ends.", schema: { type: "string", pattern: "^[0-9]+$" } },
  RateLimitPolicy: { name: "RateLimit-Policy", description: "`<limit>;w=<window seconds>`.", schema: { type: "string", pattern: "^[0-9]+;w=[0-9]+$" } },
  RequestId: { name: "x-request-id", description: "The request's id (the caller's when sane, else a new uuid).", schema: { type: "string" } },
  Allow: { name: "Allow", description: "The methods the path takes.", schema: { type: "string" } },
};
type HeaderName = keyof typeof RESPONSE_HEADERS;

/** The RateLimit fields: on every answer counted against a limit, while rate limits are on. */
const RATE_LIMIT: HeaderName[] = ["RateLimitLimit", "RateLimitRemaining", "RateLimitReset", "RateLimitPolicy"];

/** Every answer carries its request id; `names` are listed beside it, `required` are always sent. */
function headersOf(names: HeaderName[], required: HeaderName[] = []) {
  const out: Record<string, unknown> = {};
  for (const n of ["RequestId", ...names] as HeaderName[]) out[RESPONSE_HEADERS[n].name] = { $ref: `#/components/headers/${n}` };
  for (const n of required) {
    const { name, ...header } = RESPONSE_HEADERS[n];
    out[name] = { ...header, required: true };
  }
  return out;
}

const describeCodes = (codes: ErrorCode[]) => codes.map((c) => `- \`${c}\`: ${errorCatalog[c].description}`).join("\n");

/** Every error code a route may answer: its own and those of any (keyed) route. */
export function errorCodesOf(route: ApiRoute): ErrorCode[] {
  return [...(route.scope === null ? ANY_REQUEST_ERRORS : KEYED_ROUTE_ERRORS), ...route.errors];
}

function responsesOf(route: ApiRoute) {
  const responses: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(route.answers)) {
    responses[status] = {
      description: answer.description,
      // Location is always sent where it is listed; the others only when they apply.
      headers: headersOf([...RATE_LIMIT, ...(answer.headers ?? []).filter((h) => h !== "Location")], answer.headers?.includes("Location") ? ["Location"] : []),
      ...(answer.schema ? { content: { [answer.contentType ?? "application/json"]: { schema: answer.schema } } } : {}),
    };
  }
  for (const [status, codes] of codesByStatus(errorCodesOf(route))) {
    responses[String(status)] = {
      description: describeCodes(codes),
      headers: headersOf(status === 429 ? RATE_LIMIT : [], RETRY_AFTER_STATUSES.has(status) ? ["RetryAfter"] : []),
      content: { "application/json": { schema: errorBodyOf(codes) } },
    };
  }
  return responses;
}

function register(registry: OpenAPIRegistry, route: ApiRoute) {
  const params = pathParamsOf(route.path);
  const scopes = route.scope === null ? [] : [route.scope];
  registry.registerPath({
    method: route.method,
    path: toOpenApiPath(route.path),
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    security: route.scope === null ? [] : [{ [SECURITY_SCHEMES.ApiKey]: scopes }, { [SECURITY_SCHEMES.Bearer]: scopes }],
    request: {
      ...(params ? { params } : {}),
      ...(route.query ? { query: route.query } : {}),
      ...(route.headers ? { headers: route.headers } : {}),
      ...(route.body ? { body: { required: route.body.required ?? true, content: { [route.body.contentType]: { schema: route.body.schema } } } } : {}),
    },
    responses: responsesOf(route) as never,
  });
}

/**
 * The OpenAPI 3.1 document of the gateway's REST API, generated from the route list
 * (routes.ts) and the zod schemas the services validate with. Deterministic: the same
 * source gives the same bytes (docs/openapi.json is checked against it).
 */
export function buildOpenApiDocument() {
  const registry = new OpenAPIRegistry();
  registry.register("ErrorBody", ErrorBody);
  registry.registerComponent("securitySchemes", SECURITY_SCHEMES.ApiKey, {
    type: "apiKey",
    in: "header",
    name: "x-api-key",
    description: "An API key (`veriflow keys create`, POST /api/keys, or a bootstrap key of API_KEYS). Each operation names the scope it needs: `submit`, `read` or `admin`.",
  });
  registry.registerComponent("securitySchemes", SECURITY_SCHEMES.Bearer, { type: "http", scheme: "bearer", description: "The same key as `Authorization: Bearer <key>` (`x-api-key` wins when both are sent)." });
  for (const [id, { name: _name, ...header }] of Object.entries(RESPONSE_HEADERS)) registry.registerComponent("headers", id, header);
  for (const [id, u] of Object.entries(UNROUTED)) {
    registry.registerComponent("responses", id, {
      description: u.description,
      headers: headersOf(u.status === 405 ? ["Allow"] : []) as never,
      content: { "application/json": { schema: errorBodyOf([u.code]) } },
    });
  }
  for (const route of apiRoutes) register(registry, route);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: {
      title: "veriflow REST API",
      version: "v1",
      description:
        "Content-provenance verification: submit a file with its manifest URI and registry, read the job. Errors are `{ error: { code, message, details? }, requestId }` with a code of the catalog (docs/errors.md). A path this document does not list answers `NotFound`, a method a path does not take `MethodNotAllowed` (components/responses).",
    },
    servers: [{ url: "/", description: "The gateway that serves this document." }],
    tags: [
      { name: "submissions", description: "Submit a file for verification or a proof (`submit`)." },
      { name: "jobs", description: "Read, watch and retry jobs (`read`; retry: `submit`)." },
      { name: "dead letters", description: "Messages a consumer set aside (`admin`)." },
      { name: "webhooks", description: "Subscriptions, deliveries and the signing secret of job callbacks." },
      { name: "keys", description: "API keys (`admin`)." },
      { name: "reference", description: "This document and its rendered reference; no key needed." },
    ],
  });
}

export type OpenApiDocument = ReturnType<typeof buildOpenApiDocument>;

/** The document as docs/openapi.json holds it (and /openapi.json answers it): indented JSON and a newline. */
export function renderOpenApiDocument(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}
