/**
 * The observer page in a real browser (headless Chromium through playwright-core): it
 * loads from the node's admin endpoint with the token in the URL fragment (then gone from
 * the address bar), draws the tree of every node on the bus, and its kill button on a
 * process of the node serving it crashes the process: the page then shows the restarted
 * process's new pid, its restart count 1 and the crash; the same button on another node's
 * process does the same through the bus. One node on the embedded bus
 * (observer-browser.test.ts); two on RabbitMQ, both trees on one page
 * (observer-browser.rabbitmq.test.ts).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import type { FifeNode } from '../../src/node/node.ts';
import { bootObserved } from './support/observer-fixture.ts';
import { launchChromium } from './support/chromium.ts';

const TOKEN = 'observer-page-tok-7731';

export function observerBrowserSuite(busUrl: string, nodeNames: string[]): void {
  const nodes: FifeNode[] = [];
  let browser: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    for (const name of nodeNames) nodes.push(await bootObserved(name, busUrl, { token: TOKEN }));
    browser = await launchChromium();
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    for (const n of nodes.splice(0)) await n.stop();
  });

  const proc = (node: string, id: string) =>
    page.locator(`section.node[data-node="${node}"] .proc[data-proc="${id}"]`);

  const restartedOnPage = (node: string, old: string) =>
    page.waitForFunction(
      ({ node, old }) => {
        const row = document.querySelector(`section.node[data-node="${node}"] .proc[data-proc="ticker"]`);
        const pid = row?.getAttribute('data-pid');
        return (
          pid !== undefined &&
          pid !== null &&
          pid !== old &&
          row?.querySelector('.restarts')?.textContent === '1'
        );
      },
      { node, old },
      { timeout: 20_000 },
    );

  it('the page shows the tree of every node, and a kill button restarts the process: new pid, restarts 1, the crash listed', async () => {
    const self = nodes[0]!;
    await page.goto(`${self.adminUrl}/observer#token=${TOKEN}`);
    await expect.poll(() => page.url()).not.toContain(TOKEN);
    for (const n of nodes) {
      await proc(n.config.node, 'ticker').first().waitFor({ timeout: 20_000 });
      await proc(n.config.node, 'kernel_sup').first().waitFor();
    }
    await expect.poll(() => page.locator('#status').textContent()).toBe('live');

    const ticker = proc(self.config.node, 'ticker');
    const pid = await ticker.getAttribute('data-pid');
    expect(pid).toMatch(/^<.+\.\d+>$/);
    expect(await ticker.locator('.restarts').textContent()).toBe('0');
    await ticker.locator('button[data-fault="kill"]').click({ timeout: 10_000 });
    await restartedOnPage(self.config.node, pid!);
    const crashes = page.locator(`section.node[data-node="${self.config.node}"] .crashes`);
    await expect.poll(() => crashes.textContent()).toContain(`${pid}: killed`);

    // Another node's process, from the same page (through the bus).
    for (const n of nodes.slice(1)) {
      const remote = proc(n.config.node, 'ticker');
      const old = await remote.getAttribute('data-pid');
      expect(await remote.locator('.restarts').textContent()).toBe('0');
      await remote.locator('button[data-fault="kill"]').click({ timeout: 10_000 });
      await restartedOnPage(n.config.node, old!);
    }
  }, 90_000);
}
