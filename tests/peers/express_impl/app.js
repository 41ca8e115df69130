'use strict';
/**
 * An independent implementation of the Lelantos API (authentication and rate limits).
 *
 * Written the way an ordinary team would write it: Express 5 for HTTP, jsonwebtoken for the
 * session and refresh tokens, express-rate-limit (its default in-memory store) for the rate
 * limits, everything in memory. It serves as a peer for the conformance harness: a component
 * that nobody who wrote the harness wrote. `--fault NAME` switches on one of the usual
 * misconfigurations.
 *
 * Run `node app.js --help` for the options; see README.md beside this file.
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { parseArgs } = require('node:util');

const express = require('express');
const jwt = require('jsonwebtoken');
const { rateLimit, ipKeyGenerator } = require('express-rate-limit');

const API_KEY_PREFIX = 'lel_';
const TOKEN_PREFIX = 'sk_lel_';
const SESSION_TTL = 24 * 3600;
const REFRESH_TTL = 30 * 24 * 3600;
const TOKEN_LEEWAY = 10; // seconds of clock skew tolerated on exp / nbf / iat

// Requests per window, per identity and category (the documentation's table).
const LIMITS = { general: 100, sandbox_creation: 10, file_operations: 60 };

const MAX_FILE_BYTES = 1 << 20;
const MAX_FILES_PER_SANDBOX = 1000;
const MAX_SANDBOXES_PER_TEAM = 10000;
const MAX_KEYS_PER_TEAM = 1000;

const FAULTS = {
  'skip-failed': 'skipFailedRequests: true: authenticated requests answered >= 400 are not counted',
  'trust-proxy': "trust proxy is true and the limiters are keyed by req.ip (X-Forwarded-For picks the budget)",
  'per-route': 'each route has a rateLimit instance of its own instead of one per category',
  'html-429': "express-rate-limit's default 429 (text/html) instead of the documented JSON",
  'path-key': 'the rate-limit key includes the request path as sent (req.originalUrl)',
  'scope-files': "upload and download do not check that the sandbox is the caller's team's",
  'scope-listing': "GET /sandboxes lists every team's sandboxes",
  'verify-off': 'jwt.decode() where jwt.verify() was meant: signatures are not checked',
  'algs-unpinned': 'jwt.verify() without `algorithms`: HS384 and HS512 are accepted too',
};

// --------------------------------------------------------------------------- storage

const sha256 = (text) => crypto.createHash('sha256').update(text, 'latin1').digest('hex');
const now = () => Math.floor(Date.now() / 1000);
const randomId = (prefix) => prefix + crypto.randomUUID().replace(/-/g, '').slice(0, 16);

function hashPassword(password) {
  // PBKDF2 at a test-sized cost: a conformance run logs in about a hundred times.
  const salt = crypto.randomBytes(16);
  const hash = crypto.pbkdf2Sync(password, salt, 1000, 32, 'sha256');
  return { salt, hash };
}

function checkPassword(stored, password) {
  const hash = crypto.pbkdf2Sync(password, stored.salt, 1000, 32, 'sha256');
  return crypto.timingSafeEqual(hash, stored.hash);
}

/** Everything the API keeps, in memory (one thread: no locks needed). */
class Store {
  constructor() {
    this.keysByDigest = new Map(); // SHA-256 hex of the full key -> record; the key is never kept
    this.keysById = new Map();
    this.usersByEmail = new Map();
    this.usersById = new Map();
    this.sandboxes = new Map();
    this.files = new Map(); // sandbox id -> Map(path -> Buffer)
    this.liveRefresh = new Map(); // unused refresh-token jti -> user id
    this.usedRefresh = new Map(); // used jti -> jti of the refresh token issued in exchange
  }

  createKey(team, name) {
    const full = API_KEY_PREFIX + crypto.randomBytes(32).toString('base64url');
    const record = {
      id: randomId('key_'),
      team,
      name: String(name).slice(0, 100),
      digest: sha256(full),
      hint: full.slice(0, 8),
      createdAt: now(),
      revoked: false,
    };
    this.keysByDigest.set(record.digest, record);
    this.keysById.set(record.id, record);
    return [record, full];
  }

  findKey(presented) {
    const record = this.keysByDigest.get(sha256(presented));
    return record && !record.revoked ? record : null;
  }

  revokeKey(keyId, team) {
    const record = this.keysById.get(keyId);
    if (!record || record.team !== team || record.revoked) return false;
    record.revoked = true;
    this.keysByDigest.delete(record.digest);
    return true;
  }

  teamKeys(team) {
    return [...this.keysById.values()].filter((k) => k.team === team && !k.revoked);
  }

  addUser(email, password, team) {
    const user = { id: randomId('usr_'), email, team, password: hashPassword(password) };
    this.usersByEmail.set(email, user);
    this.usersById.set(user.id, user);
    return user;
  }

  createSandbox(team, name) {
    const count = [...this.sandboxes.values()].filter((s) => s.team === team).length;
    if (count >= MAX_SANDBOXES_PER_TEAM) return null;
    const sandbox = {
      id: 'sbx_' + crypto.randomBytes(8).toString('hex'),
      name: String(name).slice(0, 100),
      team,
      status: 'running',
      created_at: now(),
    };
    this.sandboxes.set(sandbox.id, sandbox);
    this.files.set(sandbox.id, new Map());
    return sandbox;
  }
}

// --------------------------------------------------------------------------- the application

function createApp(config, store, secrets) {
  const faults = new Set(config.faults);
  const windowMs = Math.round(config.window * 1000);
  const windowSeconds = Math.ceil(config.window);
  const { jwt_secret: jwtSecret, admin_token: adminToken } = secrets;

  const app = express();
  if (faults.has('trust-proxy')) app.set('trust proxy', true);

  if (config.logRequests) {
    app.use((req, res, next) => {
      const started = Date.now();
      // The path only: query strings may carry credentials (api_key=, access_token=).
      res.on('finish', () => console.error(
        `${req.method} ${req.path} ${res.statusCode} ${Date.now() - started}ms`));
      next();
    });
  }

  // ------------------------------------------------------------------ responses
  const denial = (status, message, scheme = 'Bearer realm="lelantos"') =>
    ({ status, message, scheme: status === 401 ? scheme : undefined });

  function sendDenial(res, { status, message, scheme }) {
    if (scheme) res.set('WWW-Authenticate', scheme);
    return res.status(status).json({ error: message });
  }

  const error = (res, status, message) => res.status(status).json({ error: message });

  // ------------------------------------------------------------------ tokens
  function issueTokens(user) {
    const iat = now();
    const refreshJti = crypto.randomUUID().replace(/-/g, '');
    const access = jwt.sign(
      { sub: user.id, team: user.team, type: 'access', iat, exp: iat + SESSION_TTL,
        jti: crypto.randomUUID().replace(/-/g, '') },
      jwtSecret, { algorithm: 'HS256' });
    const refresh = jwt.sign(
      { sub: user.id, type: 'refresh', iat, exp: iat + REFRESH_TTL, jti: refreshJti },
      jwtSecret, { algorithm: 'HS256' });
    store.liveRefresh.set(refreshJti, user.id);
    return [{
      access_token: TOKEN_PREFIX + access,
      refresh_token: TOKEN_PREFIX + refresh,
      token_type: 'Bearer',
      expires_in: SESSION_TTL,
    }, refreshJti];
  }

  const verifyOptions = {
    algorithms: faults.has('algs-unpinned') ? undefined : ['HS256'],
    clockTolerance: TOKEN_LEEWAY,
  };

  /** Claims of a token we issued; throws otherwise. */
  function decodeToken(presented) {
    if (!presented.startsWith(TOKEN_PREFIX)) throw new Error('missing prefix');
    const token = presented.slice(TOKEN_PREFIX.length);
    const claims = faults.has('verify-off') ? jwt.decode(token) : jwt.verify(token, jwtSecret, verifyOptions);
    if (claims === null || typeof claims !== 'object') throw new Error('not a JWT');
    // jsonwebtoken checks exp and nbf only where present and never looks at iat: require them.
    const t = Date.now() / 1000;
    if (typeof claims.exp !== 'number' || t >= claims.exp + TOKEN_LEEWAY) throw new Error('exp');
    if (typeof claims.iat !== 'number' || claims.iat > t + TOKEN_LEEWAY) throw new Error('iat');
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > t + TOKEN_LEEWAY)) {
      throw new Error('nbf');
    }
    for (const name of ['sub', 'type', 'jti']) {
      if (typeof claims[name] !== 'string') throw new Error(`missing ${name}`);
    }
    return claims;
  }

  // ------------------------------------------------------------------ authentication
  // Runs before the limiter, so that its keyGenerator can count the request against the
  // caller's identity; the denial itself is sent after it (requireAuth), without charging.
  function authenticateTeam(req) {
    const apiKey = req.get('X-API-Key');
    if (apiKey !== undefined) {
      const record = apiKey.startsWith(API_KEY_PREFIX) ? store.findKey(apiKey) : null;
      if (!record) return [null, denial(401, 'invalid API key', 'ApiKey realm="lelantos"')];
      const rateKey = config.limitBy === 'team' ? `team:${record.team}` : `key:${record.id}`;
      return [{ kind: 'api_key', rateKey, team: record.team }, null];
    }

    const authorization = req.get('Authorization');
    if (authorization !== undefined) {
      const space = authorization.indexOf(' ');
      const scheme = space < 0 ? authorization : authorization.slice(0, space);
      const token = space < 0 ? '' : authorization.slice(space + 1).trim();
      if (scheme.toLowerCase() !== 'bearer' || !token) {
        return [null, denial(401, 'unsupported authorization scheme')];
      }
      let claims;
      try {
        claims = decodeToken(token);
      } catch {
        return [null, denial(401, 'invalid or expired access token')];
      }
      const user = store.usersById.get(claims.sub);
      if (claims.type !== 'access' || !user) return [null, denial(401, 'invalid or expired access token')];
      return [{ kind: 'user', rateKey: `user:${user.id}`, team: user.team }, null];
    }

    if (req.get('X-Admin-Token') !== undefined) {
      return [null, denial(403, 'the admin token is for admin endpoints only')];
    }
    return [null, denial(401, 'authentication required', 'ApiKey realm="lelantos"')];
  }

  function authenticateAdmin(req) {
    const presented = req.get('X-Admin-Token');
    if (presented === undefined) {
      if (req.get('X-API-Key') !== undefined || req.get('Authorization')) {
        return [null, denial(403, 'admin endpoints require the admin token')];
      }
      return [null, denial(401, 'admin token required', 'AdminToken realm="lelantos"')];
    }
    const a = Buffer.from(presented, 'latin1');
    const b = Buffer.from(adminToken, 'latin1');
    if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) {
      return [null, denial(401, 'invalid admin token', 'AdminToken realm="lelantos"')];
    }
    return [{ kind: 'admin', rateKey: 'admin' }, null];
  }

  const authenticated = (authenticate) => (req, res, next) => {
    [req.principal, req.denial] = authenticate(req);
    req.rateKey = req.principal?.rateKey;
    next();
  };
  const teamAuth = authenticated(authenticateTeam);
  const adminAuth = authenticated(authenticateAdmin);
  // Login and refresh carry no credential: they count per client address.
  const byAddress = (req, res, next) => {
    req.rateKey = `addr:${ipKeyGenerator(req.ip)}`;
    next();
  };
  const requireAuth = (req, res, next) => (req.principal ? next() : sendDenial(res, req.denial));

  // ------------------------------------------------------------------ rate limits
  function tooManyRequests(req, res) {
    const { resetTime } = req.rateLimit;
    const remaining = resetTime ? Math.ceil((resetTime.getTime() - Date.now()) / 1000) : windowSeconds;
    const retryAfter = Math.min(Math.max(remaining, 1), windowSeconds);
    res.set('Retry-After', String(retryAfter));
    res.status(429).json({ error: 'rate limit exceeded', retryAfter });
  }
  const handler = faults.has('html-429') ? undefined : tooManyRequests;

  let keyGenerator = (req) => req.rateKey;
  if (faults.has('trust-proxy')) keyGenerator = (req) => ipKeyGenerator(req.ip);
  if (faults.has('path-key')) keyGenerator = (req) => `${req.rateKey}:${req.originalUrl}`;

  const categoryLimiter = (category) => rateLimit({
    windowMs,
    limit: LIMITS[category],
    keyGenerator,
    skip: (req) => req.rateKey === undefined, // failed authentication is not charged
    skipFailedRequests: faults.has('skip-failed'),
    standardHeaders: config.standardHeaders,
    handler,
  });

  // One limiter per category, shared by every route of that category.
  const shared = {
    general: categoryLimiter('general'),
    sandbox_creation: categoryLimiter('sandbox_creation'),
    file_operations: categoryLimiter('file_operations'),
  };
  const limit = (category) => (faults.has('per-route') ? categoryLimiter(category) : shared[category]);

  // Failed admin-token attempts count per client address (the default keyGenerator), so the
  // token cannot be guessed fast; past the limit, admin endpoints answer 429 from that address.
  const adminFailures = rateLimit({
    windowMs,
    limit: LIMITS.general,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (req, res) => res.statusCode !== 401,
    standardHeaders: config.standardHeaders,
    handler,
  });

  const json = express.json();
  const raw = express.raw({ type: () => true, limit: MAX_FILE_BYTES });
  const team = (category) => [teamAuth, limit(category), requireAuth];
  const admin = () => [adminAuth, adminFailures, limit('general'), requireAuth];
  const anonymous = () => [byAddress, limit('general')];

  const isObject = (body) => body !== null && typeof body === 'object' && !Array.isArray(body);
  const firstString = (value) => (Array.isArray(value) ? value[0] : value);

  // ------------------------------------------------------------------ auth endpoints
  app.post('/auth/login', anonymous(), json, (req, res) => {
    const body = req.body;
    if (!isObject(body) || typeof body.email !== 'string' || typeof body.password !== 'string') {
      return error(res, 400, 'expected a JSON body with email and password');
    }
    const user = store.usersByEmail.get(body.email);
    if (!user || !checkPassword(user.password, body.password)) {
      return sendDenial(res, denial(401, 'invalid email or password'));
    }
    res.json(issueTokens(user)[0]);
  });

  app.post('/auth/refresh', anonymous(), json, (req, res) => {
    const presented = isObject(req.body) ? req.body.refresh_token : undefined;
    if (typeof presented !== 'string' || !presented) {
      return error(res, 400, 'expected a JSON body with refresh_token');
    }
    let claims;
    try {
      claims = decodeToken(presented);
    } catch {
      return sendDenial(res, denial(401, 'invalid or expired refresh token'));
    }
    if (claims.type !== 'refresh') return sendDenial(res, denial(401, 'not a refresh token'));
    const userId = store.liveRefresh.get(claims.jti);
    if (userId === undefined) {
      // Replay of a used token: revoke whatever was issued in exchange for it.
      for (let next = store.usedRefresh.get(claims.jti); next !== undefined; next = store.usedRefresh.get(next)) {
        store.liveRefresh.delete(next);
      }
      return sendDenial(res, denial(401, 'refresh token already used or revoked'));
    }
    store.liveRefresh.delete(claims.jti);
    const user = store.usersById.get(userId);
    if (!user || user.id !== claims.sub) return sendDenial(res, denial(401, 'invalid refresh token'));
    const [tokens, newJti] = issueTokens(user);
    store.usedRefresh.set(claims.jti, newJti);
    res.json(tokens);
  });

  // ------------------------------------------------------------------ team endpoints
  const visibleSandbox = (req) => {
    const sandbox = store.sandboxes.get(req.params.id);
    return sandbox && sandbox.team === req.principal.team ? sandbox : null;
  };
  const fileSandbox = (req) => (faults.has('scope-files') ? store.sandboxes.get(req.params.id) : visibleSandbox(req));

  app.get('/sandboxes', team('general'), (req, res) => {
    const mine = [...store.sandboxes.values()]
      .filter((s) => faults.has('scope-listing') || s.team === req.principal.team);
    res.json({ sandboxes: mine });
  });

  app.post('/sandboxes', team('sandbox_creation'), json, (req, res) => {
    const name = isObject(req.body) && typeof req.body.name === 'string' ? req.body.name : 'sandbox';
    const sandbox = store.createSandbox(req.principal.team, name);
    if (!sandbox) return error(res, 409, 'sandbox quota reached');
    res.status(201).json(sandbox);
  });

  app.get('/sandboxes/:id', team('general'), (req, res) => {
    const sandbox = visibleSandbox(req);
    if (!sandbox) return error(res, 404, 'sandbox not found');
    res.json(sandbox);
  });

  app.put('/sandboxes/:id/files', team('file_operations'), raw, (req, res) => {
    const sandbox = fileSandbox(req);
    if (!sandbox) return error(res, 404, 'sandbox not found');
    const filePath = firstString(req.query.path);
    if (typeof filePath !== 'string' || !filePath || filePath.length > 1024) {
      return error(res, 400, 'the path query parameter is required');
    }
    const data = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const files = store.files.get(sandbox.id);
    if (!files.has(filePath) && files.size >= MAX_FILES_PER_SANDBOX) {
      return error(res, 409, 'file quota reached');
    }
    files.set(filePath, data);
    res.status(201).json({ path: filePath, size: data.length });
  });

  app.get('/sandboxes/:id/files', team('file_operations'), (req, res) => {
    const sandbox = fileSandbox(req);
    if (!sandbox) return error(res, 404, 'sandbox not found');
    const data = store.files.get(sandbox.id).get(firstString(req.query.path) ?? '');
    if (data === undefined) return error(res, 404, 'file not found');
    res.type('application/octet-stream').send(data);
  });

  app.post('/api-keys', team('general'), json, (req, res) => {
    if (store.teamKeys(req.principal.team).length >= MAX_KEYS_PER_TEAM) {
      return error(res, 409, 'API key quota reached');
    }
    const name = isObject(req.body) && typeof req.body.name === 'string' ? req.body.name : '';
    const [record, full] = store.createKey(req.principal.team, name);
    res.status(201).json({ id: record.id, name: record.name, key: full, created_at: record.createdAt });
  });

  app.get('/api-keys', team('general'), (req, res) => {
    const keys = store.teamKeys(req.principal.team)
      .map((k) => ({ id: k.id, name: k.name, prefix: k.hint, created_at: k.createdAt }));
    res.json({ api_keys: keys });
  });

  app.delete('/api-keys/:id', team('general'), (req, res) => {
    if (!store.revokeKey(req.params.id, req.principal.team)) return error(res, 404, 'API key not found');
    res.status(204).end();
  });

  // ------------------------------------------------------------------ admin endpoints
  app.get('/admin/users', admin(), (req, res) => {
    const users = [...store.usersById.values()].map((u) => ({ id: u.id, email: u.email, team: u.team }));
    res.json({ users });
  });

  app.get('/admin/nodes', admin(), (req, res) => {
    res.json({ nodes: [{ id: 'node-1', status: 'ready', sandboxes: store.sandboxes.size }] });
  });

  // ------------------------------------------------------------------ errors
  app.use((req, res) => error(res, 404, 'not found'));

  // Body-parser and routing errors (400, 413, 415) and anything thrown. The message is fixed:
  // a parse error's own message quotes the body, which may hold a credential.
  app.use((err, req, res, _next) => {
    const status = Number.isInteger(err.status) && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) console.error('unhandled error:', err);
    if (res.headersSent) return res.end();
    error(res, status, status === 500 ? 'internal error' : http.STATUS_CODES[status].toLowerCase());
  });

  return app;
}

// --------------------------------------------------------------------------- start-up

/** Teams A and B, one user in team A, the admin token and the JWT secret. */
function provision(store, identities) {
  const [, apiKey] = store.createKey('team-a', 'conformance');
  const [, apiKeyOtherTeam] = store.createKey('team-b', 'conformance');
  const [revoked, apiKeyRevoked] = store.createKey('team-a', 'revoked');
  store.revokeKey(revoked.id, 'team-a');
  const email = 'conformance@team-a.example';
  const password = crypto.randomBytes(18).toString('base64url');
  store.addUser(email, password, 'team-a');
  store.createSandbox('team-a', 'team-a-sandbox');
  const other = store.createSandbox('team-b', 'team-b-sandbox');
  const extra = [];
  for (let i = 0; i < identities; i++) extra.push(store.createKey(`load-${i}`, 'load')[1]);
  return {
    api_key: apiKey,
    api_key_other_team: apiKeyOtherTeam,
    api_key_revoked: apiKeyRevoked,
    email,
    password,
    // An operator's own token from the environment (a deployment may generate digits only),
    // else a random one.
    admin_token: process.env.LELANTOS_ADMIN_TOKEN || crypto.randomBytes(32).toString('base64url'),
    jwt_secret: crypto.randomBytes(48).toString('base64url'),
    other_team_sandbox: other.id,
    extra_api_keys: extra,
  };
}

/** Write the file atomically, readable by its owner only. */
function writeCredentials(file, credentials) {
  const target = path.resolve(file);
  const tmp = path.join(path.dirname(target), `.credentials-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, JSON.stringify(credentials, null, 2));
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

const USAGE = `usage: node app.js [--port N] [--window S] [--limit-by key|team] [--credentials-out FILE]
                   [--identities N] [--fault NAME]... [--standard-headers DRAFT] [--log-requests]

An independent implementation of the Lelantos API (Express, express-rate-limit, jsonwebtoken).

  --port N               port on 127.0.0.1 (default 0: any free one)
  --window S             rate-limit window in seconds for every category (default 60)
  --limit-by key|team    whom an API key's requests count against: the key (default) or its
                         team (every key of a team shares one budget per category)
  --credentials-out FILE write the credentials as JSON (mode 0600)
  --identities N         extra API keys, each of its own team (extra_api_keys)
  --fault NAME           switch on a misconfiguration (repeatable):
${Object.entries(FAULTS).map(([k, v]) => `                           ${k}: ${v}`).join('\n')}
  --standard-headers DRAFT
                         send express-rate-limit's IETF RateLimit fields: draft-6, draft-7 or
                         draft-8 (default: none, the library's default)
  --log-requests         log each request to stderr
`;

function fail(message) {
  process.stderr.write(`app.js: error: ${message}\n(node app.js --help lists the options)\n`);
  process.exit(2);
}

function parseArguments(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string', default: '0' },
        window: { type: 'string', default: '60' },
        'limit-by': { type: 'string', default: 'key' },
        'credentials-out': { type: 'string' },
        identities: { type: 'string', default: '0' },
        fault: { type: 'string', multiple: true, default: [] },
        'standard-headers': { type: 'string' },
        'log-requests': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    fail(e.message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid --port: ${values.port}`);
  const window = Number(values.window);
  if (!Number.isFinite(window) || window <= 0 || window * 1000 > 2 ** 31 - 1) {
    fail(`invalid --window: ${values.window} (seconds, > 0)`);
  }
  if (!['key', 'team'].includes(values['limit-by'])) fail(`invalid --limit-by: ${values['limit-by']} (key or team)`);
  const identities = Number(values.identities);
  if (!Number.isInteger(identities) || identities < 0) fail('--identities must be an integer >= 0');
  const standardHeaders = values['standard-headers'];
  if (standardHeaders !== undefined && !['draft-6', 'draft-7', 'draft-8'].includes(standardHeaders)) {
    fail(`invalid --standard-headers: ${standardHeaders} (draft-6, draft-7 or draft-8)`);
  }
  for (const name of values.fault) {
    if (!Object.hasOwn(FAULTS, name)) {
      fail(`unknown fault: ${name} (choose from ${Object.keys(FAULTS).join(', ')})`);
    }
  }
  return {
    port,
    window,
    limitBy: values['limit-by'],
    credentialsOut: values['credentials-out'],
    identities,
    faults: values.fault,
    standardHeaders: standardHeaders ?? false,
    logRequests: values['log-requests'],
  };
}

function main(argv) {
  const config = parseArguments(argv);
  const store = new Store();
  const credentials = provision(store, config.identities);
  const app = createApp(config, store, credentials);
  // Node's defaults throughout: 16 KiB of request headers (431 past that), its timeouts.
  const server = http.createServer(app);
  server.on('error', (e) => {
    console.error(`app.js: ${e.message}`);
    process.exit(1);
  });
  server.listen(config.port, '127.0.0.1', () => {
    const baseUrl = `http://127.0.0.1:${server.address().port}`;
    if (config.credentialsOut) writeCredentials(config.credentialsOut, { base_url: baseUrl, ...credentials });
    console.log(`listening on ${baseUrl}`);
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
}

main(process.argv.slice(2));
