import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";

/**
 * zod with `.openapi()` (zod-to-openapi): names a schema for components/schemas and holds the
 * OpenAPI-only details (parameter names, examples). Extended once, here; every schema of the
 * REST API imports `z` from this module.
 */
extendZodWithOpenApi(z);

export { z };
