/**
 * How a client proves itself to the admin endpoint: `Authorization: Bearer <admin token>`
 * (admin.ts checks it; the CLI sends it). No token configured: no header.
 */
export const adminAuthHeader = (token: string | undefined): Record<string, string> =>
  token ? { authorization: `Bearer ${token}` } : {};
