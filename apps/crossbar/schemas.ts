/**
 * The JSON schemas of what crossbar stores, after Kazoo 4.3's
 * applications/crossbar/priv/couchdb/schemas (accounts, users, devices, callflows, vmboxes,
 * media, menus): the
 * same required fields, types and limits for the fields Fife uses; any other field is
 * kept as given (Kazoo's schemas allow them too).
 */
const str = (min = 1, max = 128) => ({ type: 'string', minLength: min, maxLength: max });

export const accountSchema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: str(1, 128),
    realm: { type: 'string', minLength: 4, maxLength: 253, pattern: '^[0-9A-Za-z._:-]+$' },
    enabled: { type: 'boolean', default: true },
    language: { type: 'string' },
    timezone: { type: 'string' },
    caller_id: { type: 'object' },
    call_restriction: { type: 'object' },
    notifications: { type: 'object' },
  },
} as const;

export const userSchema = {
  type: 'object',
  required: ['first_name', 'last_name'],
  properties: {
    first_name: str(1, 128),
    last_name: str(1, 128),
    username: str(1, 256),
    password: { type: 'string', minLength: 1 },
    email: str(3, 254),
    priv_level: { type: 'string', enum: ['user', 'admin'], default: 'user' },
    enabled: { type: 'boolean', default: true },
    presence_id: { type: 'string' },
    caller_id: { type: 'object' },
    vm_to_email_enabled: { type: 'boolean' },
    timezone: { type: 'string' },
  },
} as const;

export const deviceSchema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: str(1, 128),
    device_type: {
      type: 'string',
      enum: [
        'ata',
        'application',
        'cellphone',
        'fax',
        'landline',
        'mobile',
        'sip_device',
        'sip_uri',
        'smartphone',
        'softphone',
        'teammate',
      ],
      default: 'sip_device',
    },
    enabled: { type: 'boolean', default: true },
    owner_id: { type: 'string', pattern: '^[0-9a-f]{32}$' },
    mac_address: { type: 'string' },
    sip: {
      type: 'object',
      default: {},
      properties: {
        username: { type: 'string', minLength: 2, maxLength: 32 },
        password: { type: 'string', minLength: 5, maxLength: 32 },
        realm: { type: 'string' },
        method: { type: 'string', enum: ['password', 'ip'], default: 'password' },
        invite_format: {
          type: 'string',
          enum: ['username', 'npan', '1npan', 'e164', 'route', 'contact'],
          default: 'contact',
        },
        ip: { type: 'string' },
        expire_seconds: { type: 'integer', minimum: 1, default: 300 },
      },
    },
    caller_id: { type: 'object' },
    media: { type: 'object' },
  },
} as const;

const flowNode = {
  type: 'object',
  required: ['module'],
  properties: {
    module: { type: 'string', minLength: 1, maxLength: 64 },
    data: { type: 'object', default: {} },
    children: { type: 'object', default: {} },
  },
} as const;

export const callflowSchema = {
  type: 'object',
  required: ['flow'],
  properties: {
    name: str(1, 128),
    numbers: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 36 }, default: [] },
    patterns: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    featurecode: { type: 'object' },
    flow: flowNode,
    type: { type: 'string' },
  },
} as const;

export const vmboxSchema = {
  type: 'object',
  required: ['name', 'mailbox'],
  properties: {
    name: str(1, 128),
    mailbox: { type: 'string', minLength: 1, maxLength: 30 },
    pin: { type: 'string', minLength: 4, maxLength: 15 },
    owner_id: { type: 'string', pattern: '^[0-9a-f]{32}$' },
    require_pin: { type: 'boolean', default: false },
    skip_greeting: { type: 'boolean', default: false },
    skip_instructions: { type: 'boolean', default: false },
    is_setup: { type: 'boolean', default: false },
    check_if_owner: { type: 'boolean', default: true },
    delete_after_notify: { type: 'boolean', default: false },
    save_after_notify: { type: 'boolean', default: false },
    not_configurable: { type: 'boolean', default: false },
    media_extension: { type: 'string', enum: ['mp3', 'mp4', 'wav'] },
    max_message_length: { type: 'integer', minimum: 1 },
    min_message_size: { type: 'integer', minimum: 0 },
    max_login_attempts: { type: 'integer', minimum: 1 },
    timezone: { type: 'string', minLength: 5, maxLength: 32 },
    media: { type: 'object', default: {}, properties: { unavailable: str(1, 2048) } },
    notify_email_addresses: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const mediaSchema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: str(1, 128),
    description: { type: 'string', maxLength: 256 },
    media_source: { type: 'string', enum: ['recording', 'upload', 'tts'], default: 'upload' },
    streamable: { type: 'boolean', default: true },
    language: { type: 'string', default: 'en-us' },
    prompt_id: { type: 'string' },
    tts: {
      type: 'object',
      properties: { text: { type: 'string', minLength: 1 }, voice: { type: 'string' } },
    },
  },
} as const;

export const menuSchema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: str(1, 128),
    retries: { type: 'integer', minimum: 1, default: 3 },
    timeout: { type: 'integer', minimum: 1, default: 10000 },
    max_extension_length: { type: 'integer', minimum: 1, default: 4 },
    interdigit_timeout: { type: 'integer', minimum: 1 },
    hunt: { type: 'boolean', default: true },
    allow_record_from_offnet: { type: 'boolean', default: false },
    record_pin: { type: 'string', minLength: 3, maxLength: 6 },
    suppress_media: { type: 'boolean', default: false },
    media: {
      type: 'object',
      properties: {
        greeting: str(1, 2048),
        invalid_media: { type: ['boolean', 'string'] },
        transfer_media: { type: ['boolean', 'string'] },
        exit_media: { type: ['boolean', 'string'] },
      },
    },
  },
} as const;

export const directorySchema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: str(1, 128),
    min_dial: { type: 'integer', minimum: 1, default: 3 },
    max_dial: { type: 'integer', minimum: 1, default: 255 },
    sort_by: { type: 'string', enum: ['first_name', 'last_name'], default: 'last_name' },
    confirm_match: { type: 'boolean', default: true },
    users: { type: 'array', items: { type: 'string' }, default: [] },
  },
} as const;

/**
 * A call-center queue (Kazoo's queues schema) and the fields apps/acdc reads beside
 * Kazoo's: `max_priority` (x-max-priority of the shared queue), `workers`,
 * `collect_timeout`, `retry_interval` (Fife's, in seconds).
 */
export const queueSchema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: str(1, 128),
    strategy: { type: 'string', enum: ['round_robin', 'most_idle'], default: 'round_robin' },
    agent_ring_timeout: { type: 'integer', minimum: 1, default: 15 },
    agent_wrapup_time: { type: 'integer', minimum: 0, default: 0 },
    connection_timeout: { type: 'integer', minimum: 0, default: 3600 },
    max_queue_size: { type: 'integer', minimum: 0, default: 0 },
    ring_simultaneously: { type: 'integer', minimum: 1, default: 1 },
    enter_when_empty: { type: 'boolean', default: true },
    caller_exit_key: {
      type: 'string',
      enum: ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'],
      default: '#',
    },
    moh: { type: 'string' },
    announce: { type: 'string' },
    record_caller: { type: 'boolean', default: false },
    max_priority: { type: 'integer', minimum: 0, maximum: 255 },
    workers: { type: 'integer', minimum: 1 },
    collect_timeout: { type: 'number', minimum: 0 },
    retry_interval: { type: 'number', exclusiveMinimum: 0 },
  },
} as const;

export const whitelabelSchema = {
  type: 'object',
  properties: {
    domain: { type: 'string', minLength: 4, maxLength: 253, pattern: '^[0-9A-Za-z._-]+$' },
    company_name: str(1, 128),
    fake_api_url: { type: 'string' },
    hide_credits: { type: 'boolean', default: false },
    hide_powered: { type: 'boolean', default: false },
    hide_registration: { type: 'boolean', default: false },
    inbound_trunks_price: { type: 'string' },
    outbound_trunks_price: { type: 'string' },
    twoway_trunks_price: { type: 'string' },
    nav: { type: 'object', properties: { help: { type: 'string' }, learn_more: { type: 'string' } } },
    port: { type: 'object' },
  },
} as const;

/** An account's install of an apps-store app (Kazoo's apps_store `apps.<id>`). */
export const appInstallSchema = {
  type: 'object',
  properties: {
    allowed_users: { type: 'string', enum: ['all', 'specific', 'admins'], default: 'specific' },
    users: {
      type: 'array',
      items: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } },
      default: [],
    },
  },
} as const;

/** An app's metadata as a browser client ships it (`<app>/metadata/app.json`, Kazoo's app schema). */
export const appSchema = {
  type: 'object',
  required: ['name', 'i18n'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9_-]+$' },
    i18n: { type: 'object', minProperties: 1 },
    tags: { type: 'array', items: { type: 'string' } },
    icon: { type: 'string', minLength: 1 },
    screenshots: { type: 'array', items: { type: 'string', minLength: 1 } },
    api_url: { type: 'string' },
    source_url: { type: 'string' },
    author: { type: 'string' },
    version: { type: 'string' },
    license: { type: 'string' },
    price: { type: 'number', minimum: 0 },
    published: { type: 'boolean', default: true },
    masqueradable: { type: 'boolean', default: true },
    phase: { type: 'string', enum: ['alpha', 'beta', 'gold'] },
    urls: { type: 'object' },
  },
} as const;

/** A voicemail message uploaded by a client (Kazoo's vmbox message metadata). */
export const vmMessageSchema = {
  type: 'object',
  properties: {
    folder: { type: 'string', enum: ['new', 'saved', 'deleted'], default: 'new' },
    caller_id_name: { type: 'string', maxLength: 128 },
    caller_id_number: { type: 'string', maxLength: 64 },
    from: { type: 'string' },
    to: { type: 'string' },
    call_id: { type: 'string' },
    length: { type: 'integer', minimum: 0 },
    timestamp: { type: 'integer', minimum: 0 },
  },
} as const;

/** `POST` / `DELETE .../vmboxes/{B}/messages`: moves several messages (all when none listed). */
export const vmBulkSchema = {
  type: 'object',
  properties: {
    messages: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    folder: { type: 'string', enum: ['new', 'saved', 'deleted'] },
  },
} as const;
