/**
 * The OpenAPI 3.1 document of the routes crossbar serves (`GET /v2/openapi.json`, no
 * token), generated from the routes as they are registered (server.ts collects them with
 * fastify's onRoute hook), so it cannot list a route that is not served nor miss one.
 *
 * Contract
 * - `openApiDocument(routes)`: one operation per served method and path (fastify's
 *   `:param` as `{param}`, a required string path parameter; HEAD, OPTIONS and wildcard
 *   routes left out). A route declaring its request schema (answer.ts `body`) gets a JSON
 *   request body `{data: <schema>}` whose schema is the one the handler validates with
 *   (schemas.ts), under `components.schemas.<name>`; a raw upload route its media type.
 *   Every operation answers Kazoo's envelope (`envelope`, `error_envelope`); the ones
 *   not marked token-free require `X-Auth-Token` (security scheme `auth_token`).
 */
export interface RouteInfo {
  method: string;
  url: string;
  config?: { body?: { name: string; schema: object }; tokenFree?: boolean; rawBody?: string };
}

type Obj = Record<string, unknown>;

const envelope = {
  type: 'object',
  required: ['data', 'status'],
  properties: {
    auth_token: { type: 'string' },
    data: {},
    node: { type: 'string' },
    request_id: { type: 'string' },
    revision: { type: 'string' },
    status: { type: 'string', enum: ['success'] },
    timestamp: { type: 'string' },
    version: { type: 'string' },
    page_size: { type: 'integer' },
    start_key: {},
    next_start_key: {},
  },
};

const errorEnvelope = {
  type: 'object',
  required: ['data', 'status', 'error', 'message'],
  properties: {
    auth_token: { type: 'string' },
    data: { type: 'object' },
    error: { type: 'string', description: 'the HTTP status code' },
    message: { type: 'string', description: "Kazoo's error name (bad_identifier, validation error, ...)" },
    node: { type: 'string' },
    request_id: { type: 'string' },
    status: { type: 'string', enum: ['error'] },
    timestamp: { type: 'string' },
    version: { type: 'string' },
  },
};

const json = (schema: object) => ({ 'application/json': { schema } });

export function openApiDocument(routes: readonly RouteInfo[], version: string): Obj {
  const paths: Record<string, Record<string, Obj>> = {};
  const schemas: Record<string, object> = { envelope, error_envelope: errorEnvelope };
  for (const r of routes) {
    const method = r.method.toLowerCase();
    if (method === 'head' || method === 'options' || r.url.includes('*')) continue;
    const path = r.url.replace(/:(\w+)/g, '{$1}');
    const names = [...r.url.matchAll(/:(\w+)/g)].map((m) => m[1]!);
    const segments = path
      .split('/')
      .filter((p) => p !== '' && p !== 'v2')
      .map((p) => p.replace(/[{}]/g, ''));
    const tag =
      segments.filter((p) => !names.includes(p)).at(segments[0] === 'accounts' ? 1 : 0) ?? 'accounts';
    const op: Obj = {
      operationId: `${method}_${segments.join('_').replace(/[^\w]/g, '_')}`,
      tags: [tag],
      parameters: names.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      responses: {
        [method === 'put' ? '201' : '200']: {
          description: "Kazoo's success envelope",
          content: json({ $ref: '#/components/schemas/envelope' }),
        },
        default: {
          description: "Kazoo's error envelope",
          content: json({ $ref: '#/components/schemas/error_envelope' }),
        },
      },
    };
    const b = r.config?.body;
    if (b !== undefined) {
      schemas[b.name] = b.schema;
      op.requestBody = {
        required: method !== 'post' || !r.url.endsWith('tokeninfo'),
        content: json({
          type: 'object',
          properties: { data: { $ref: `#/components/schemas/${b.name}` }, auth_token: { type: 'string' } },
        }),
      };
    } else if (r.config?.rawBody !== undefined) {
      op.requestBody = {
        required: true,
        content: { [r.config.rawBody]: { schema: { type: 'string', format: 'binary' } } },
      };
    }
    if (r.config?.tokenFree !== true) op.security = [{ auth_token: [] }];
    (paths[path] ??= {})[method] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: "Fife crossbar: Kazoo's REST API v2",
      version,
      description: 'Generated from the routes this server registers and the schemas they validate with.',
    },
    paths,
    components: {
      schemas,
      securitySchemes: { auth_token: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' } },
    },
  };
}
