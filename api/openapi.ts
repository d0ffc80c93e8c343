/**
 * The OpenAPI 3.1 document served at /openapi.json (CONTRACT preamble). Route modules describe their
 * operations here as they are mounted, so the document cannot drift from the routes that exist.
 */
export interface OperationDoc {
  readonly summary: string;
  /** Machine roles (client certificate) and operator roles allowed (CONTRACT §7). */
  readonly roles?: readonly string[];
  readonly requestBody?: Record<string, unknown>;
  readonly responses: Readonly<Record<string, string>>;
  readonly parameters?: ReadonlyArray<{ name: string; in: "path" | "query" | "header"; required?: boolean; description?: string }>;
}

export class OpenApiDocument {
  private readonly paths = new Map<string, Record<string, unknown>>();

  constructor(private readonly info: { title: string; version: string }) {}

  /** Adds one operation; `path` in OpenAPI form, e.g. `/v1/certificates/{serial}`. */
  add(method: "get" | "post" | "put" | "delete", path: string, op: OperationDoc): this {
    const item = this.paths.get(path) ?? {};
    item[method] = {
      summary: op.summary,
      ...(op.roles ? { "x-roles": op.roles, security: [{ mutualTLS: [] }, ...(op.roles.some((r) => !["terminal", "admin", "feed", "relying-party"].includes(r)) ? [{ operatorSession: [] }] : [])] } : {}),
      ...(op.parameters ? { parameters: op.parameters.map((p) => ({ ...p, schema: { type: "string" } })) } : {}),
      ...(op.requestBody ? { requestBody: { required: true, content: { "application/json": { schema: op.requestBody } } } } : {}),
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
