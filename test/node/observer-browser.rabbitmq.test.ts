import { describe } from 'vitest';
import { rabbitmqGate } from '../bus/support/rabbitmq.ts';
import { isolatedAmqpUrl } from '../support/rabbitmq-vhost.ts';
import { chromiumGate } from './support/chromium.ts';
import { observerBrowserSuite } from './observer-browser-suite.ts';

const rabbit = await rabbitmqGate();
const browser = await chromiumGate();
describe.skipIf(!rabbit.available || !browser.available)(
  'observer page in Chromium, two nodes on RabbitMQ',
  () =>
    observerBrowserSuite(rabbit.available ? isolatedAmqpUrl('fife-observer-page') : '', [
      'page-a@localhost',
      'page-b@localhost',
    ]),
);
