/**
 * `route(cb, fn)`: a fastify handler running `fn` and sending its answer in Kazoo's
 * success envelope; whatever it throws goes to the server's error handler (server.ts),
 * which sends Kazoo's error envelope.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendSuccess } from './envelope.ts';

export interface Answer {
  status?: number;
  data: unknown;
  revision?: string;
  paging?: Record<string, unknown>;
}

export const route =
  (fn: (req: FastifyRequest) => Promise<Answer>) =>
  async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const a = await fn(req);
    return sendSuccess(reply, req.cbMeta, a.status ?? 200, a.data, {
      revision: a.revision,
      paging: a.paging,
    });
  };

/**
 * A route's options naming the JSON schema its request `data` is checked with: the
 * OpenAPI document (openapi.ts) shows it as the request body. Validation stays in the
 * handler (validate.ts); this only declares the schema.
 */
export const body = (name: string, schema: object, more: { tokenFree?: boolean } = {}) => ({
  config: { body: { name, schema }, ...more },
});

/** A route that answers without a token (logins, public images): the OpenAPI document says so. */
export const tokenFree = { config: { tokenFree: true } };

export type Params = Record<string, string>;
export const params = (req: FastifyRequest): Params => req.params as Params;
export const query = (req: FastifyRequest): Record<string, unknown> => req.query as Record<string, unknown>;
