/**
 * `isolatedAmqpUrl(vhost)`: the test broker's URL (FIFE_TEST_AMQP_URL or the local
 * default) on a vhost of its own, made with rabbitmqctl when it can be (root on the
 * broker's machine), so that a registrar binding `authn.req.*` never answers other
 * suites running on the same broker. Falls back to the plain URL when it cannot.
 * `dropVhost(vhost)` deletes such a vhost (its queues with it) when it can; for runs that
 * name a vhost of their own each time.
 */
import { spawnSync } from 'node:child_process';

export const TEST_AMQP_URL = process.env.FIFE_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export function isolatedAmqpUrl(vhost: string): string {
  const ok = (args: string[]) =>
    spawnSync('rabbitmqctl', args, { encoding: 'utf8', timeout: 30_000 }).status === 0;
  const user = decodeURIComponent(new URL(TEST_AMQP_URL).username || 'guest');
  if (
    (ok(['-q', 'add_vhost', vhost]) || ok(['-q', 'list_vhosts'])) &&
    ok(['-q', 'set_permissions', '-p', vhost, user, '.*', '.*', '.*'])
  ) {
    return `${TEST_AMQP_URL.replace(/\/$/, '')}/${encodeURIComponent(vhost)}`;
  }
  return TEST_AMQP_URL;
}

export function dropVhost(vhost: string): void {
  spawnSync('rabbitmqctl', ['-q', 'delete_vhost', vhost], { encoding: 'utf8', timeout: 30_000 });
}
