/**
 * The hello app's tree on a Fife runtime in this process: the greeter answers, counts, is
 * restarted by its supervisor after a crash, and the tree stops cleanly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GenServer, Runtime, Supervisor, createRootLogger, type Pid } from 'fife/kernel';
import app from '../src/app.ts';

test('hello greets, and its supervisor restarts a crashed greeter', async () => {
  const node = 'test@localhost';
  const runtime = new Runtime({ node, logger: createRootLogger({ node, level: 'silent' }) });
  try {
    const root = await Supervisor.start(runtime, app.tree(undefined), { name: 'hello_sup', app: app.name });
    assert.equal(root.type, 'ok');
    assert.equal(await GenServer.call(runtime, 'greeter', { hello: 'ada' }), 'hello, ada');

    const first = runtime.whereis('greeter') as Pid;
    const restarted = runtime.events.waitFor('supervisor', (e) => e.kind === 'child_restarted');
    runtime.exit(first, 'kill'); // untrappable: the greeter traps exits
    await restarted;
    assert.notEqual((runtime.whereis('greeter') as Pid).id, first.id);
    assert.equal(await GenServer.call(runtime, 'greeter', { hello: 'grace' }), 'hello, grace');
  } finally {
    await runtime.shutdown();
  }
});
