/**
 * Kazoo's response envelope. Success: `{auth_token, data, node, request_id, revision,
 * status: "success", timestamp, version}` (listings add `page_size`, `start_key`,
 * `next_start_key`); error: the same with `status: "error"`, `error: "<http code>"` and
 * `message: <error name>`. Always sent as `Content-Type: application/json` exactly
 * (browser clients parse error bodies only with that header); the body is sent as bytes so
 * fastify adds no charset parameter.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { FIFE_VERSION } from '../../src/version.ts';

export interface EnvelopeMeta {
  authToken: string;
  requestId: string;
  node: string;
}

/** Kazoo sends a digest of its node name, not the name itself. */
export const nodeDigest = (node: string): string => createHash('md5').update(node).digest('base64url');

function base(meta: EnvelopeMeta) {
  return {
    auth_token: meta.authToken,
    node: meta.node,
    request_id: meta.requestId,
    timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    version: FIFE_VERSION,
  };
}

export function sendSuccess(
  reply: FastifyReply,
  meta: EnvelopeMeta,
  status: number,
  data: unknown,
  opts: { revision?: string; paging?: Record<string, unknown> } = {},
): FastifyReply {
  const revision = opts.revision ?? 'undefined';
  if (opts.revision !== undefined) void reply.header('etag', `"${opts.revision}"`);
  return reply
    .code(status)
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify({ ...base(meta), data, revision, status: 'success', ...opts.paging })));
}

export function sendError(
  reply: FastifyReply,
  meta: EnvelopeMeta,
  status: number,
  message: string,
  data: unknown,
): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'application/json')
    .send(
      Buffer.from(JSON.stringify({ ...base(meta), data, error: String(status), message, status: 'error' })),
    );
}
