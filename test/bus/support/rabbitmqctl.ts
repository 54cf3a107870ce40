/**
 * Broker-side fault injection for RabbitMQ tests, through rabbitmqctl (no management
 * plugin needed): close the connections with a given connection_name, stop and start the
 * broker app. `startApp()` returns only once the broker accepts work again (await_startup).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function ctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', args, { timeout: 60_000 });
  return stdout;
}

/** Closes every connection whose client property connection_name is `name`; returns how many. */
export async function closeConnectionsNamed(
  name: string,
  reason = 'fife test: closed from the broker side',
): Promise<number> {
  const out = await ctl('list_connections', 'pid', 'client_properties', '-q', '--no-table-headers');
  const pids = out
    .split('\n')
    .filter((line) => line.includes(`{"connection_name","${name}"}`))
    .map((line) => line.split('\t')[0]);
  for (const pid of pids) await ctl('close_connection', pid, reason);
  return pids.length;
}

export async function stopApp(): Promise<void> {
  await ctl('stop_app');
}

export async function startApp(): Promise<void> {
  await ctl('start_app');
  await ctl('await_startup');
}
