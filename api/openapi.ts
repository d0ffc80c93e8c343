/**
 * The OpenAPI 3.1 document served at /openapi.json (docs/api.md §0). Routes are declared through
 * api/route-contract.ts `route()`, which adds each operation here from the same zod schemas that
 * validate its requests, so the document cannot drift from the routes that exist nor from what they accept.
 */

/** One parameter of an operation; `schema` defaults to a string. */
export interface ParameterDoc {
  readonly name: string;
  readonly in: "path" | "query" | "header";
  readonly required?: boolean;
  readonly description?: string;
  readonly schema?: Record<string, unknown>;
}

export interface OperationDoc {
  readonly summary: string;
  /** Machine roles (client certificate) and operator roles allowed (docs/api.md §7). */
  readonly roles?: readonly string[];
  readonly requestBody?: Record<string, unknown>;
  /** True when the body may be left out (the route then takes its defaults). */
  readonly requestBodyOptional?: boolean;
  readonly responses: Readonly<Record<string, string>>;
  readonly parameters?: readonly ParameterDoc[];
}

export class OpenApiDocument {
  private readonly paths = new Map<string, Record<string, unknown>>();

  constructor(private readonly info: { title: string; version: string }) {}

  /** Adds one operation; `path` in OpenAPI form, e.g. `/v1/certificates/{serial}`. */
  add(method: "get" | "post" | "put" | "delete", path: string, op: OperationDoc): this {
    const item = this.paths.get(path) ?? {};
    item[method] = {
      summary: op.summary,
      ...(op.roles ? { "x-roles": op.roles, security: [{ mutualTLS: [] }, ...(op.roles.some((r) => !["terminal", "admin", "feed", "relying-party", "holder-portal"].includes(r)) ? [{ operatorSession: [] }] : [])] } : {}),
      ...(op.parameters ? { parameters: op.parameters.map((p) => ({ ...p, schema: p.schema ?? { type: "string" } })) } : {}),
      ...(op.requestBody ? { requestBody: { required: op.requestBodyOptional !== true, content: { "application/json": { schema: op.requestBody } } } } : {}),
      responses: Object.fromEntries(
        Object.entries(op.responses).map(([code, description]) => [
          code,
          { description, ...(Number(code) >= 400 ? { content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } } : {}) },
        ]),
      ),
    };
    this.paths.set(path, item);
    return this;
  }

  toJSON(): Record<string, unknown> {
    return {
      openapi: "3.1.0",
      info: this.info,
      paths: Object.fromEntries([...this.paths.entries()].sort(([a], [b]) => a.localeCompare(b))),
      components: {
        securitySchemes: {
          mutualTLS: { type: "mutualTLS", description: "client certificate issued by the service CA; its OU names the machine role" },
          operatorSession: { type: "http", scheme: "bearer", description: "operator session token from POST /v1/sessions, bound to the terminal certificate" },
        },
        schemas: {
          Problem: {
            type: "object",
            required: ["type", "title", "status"],
            properties: { type: { type: "string" }, title: { type: "string" }, status: { type: "integer" }, detail: { type: "string" }, field: { type: "string" } },
          },
        },
      },
    };
  }
}
