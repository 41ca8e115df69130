"""An independent implementation of the Lelantos API (authentication and rate limits).

Written the way an ordinary team would write it: Flask for HTTP, PyJWT for the session and
refresh tokens, Flask-Limiter (on top of the `limits` package) for the rate limits, everything in
memory. It serves as a peer for the conformance harness: a component that nobody who wrote the
harness wrote. ``--fault NAME`` switches on one of the usual misconfigurations.

Run ``python app.py --help`` for the options; see README.md beside this file.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import sys
import tempfile
import threading
import time
import uuid
from functools import wraps

import jwt
from flask import Flask, Response, g, jsonify, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits.strategies import STRATEGIES
from werkzeug.exceptions import HTTPException
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.serving import make_server

API_KEY_PREFIX = "lel_"
TOKEN_PREFIX = "sk_lel_"
SESSION_TTL = 24 * 3600
REFRESH_TTL = 30 * 24 * 3600
TOKEN_LEEWAY = 10  # seconds of clock skew tolerated on exp / nbf / iat

# Requests per window, per identity and category (the documentation's table).
LIMITS = {"general": 100, "sandbox_creation": 10, "file_operations": 60}

MAX_FILE_BYTES = 1 << 20
MAX_FILES_PER_SANDBOX = 1000
MAX_SANDBOXES_PER_TEAM = 10_000
MAX_KEYS_PER_TEAM = 1000

FAULTS = {
    "verify-off": "JWT signatures are not verified (verify_signature=False)",
    "algs-unpinned": "the JWT algorithm is taken from the token's own header (incl. none)",
    "exp-not-required": "tokens without an exp claim are accepted",
    "limit-by-address": "rate limits are keyed by client address, not by identity",
    "default-429-body": "Flask-Limiter's default 429 body instead of the documented JSON",
    "one-limiter": "one general limit shared by every category",
    "kid-file": "the token's kid names its key file, joined to the key directory as given",
    "jku-fetch": "the token's jku is handed to PyJWKClient, which fetches it (loopback only)",
    "refresh-verify-off": "the refresh endpoint decodes refresh tokens without verifying them",
    "refresh-exp-ignored": "the refresh endpoint does not check a refresh token's exp",
}


# --------------------------------------------------------------------------- storage


@dataclasses.dataclass
class ApiKey:
    id: str
    team: str
    name: str
    digest: str  # SHA-256 hex of the full key; the key itself is never stored
    hint: str  # first characters, for listings
    created_at: int
    revoked: bool = False


@dataclasses.dataclass
class User:
    id: str
    email: str
    team: str
    password_hash: str


@dataclasses.dataclass
class Principal:
    kind: str  # "api_key", "user" or "admin"
    rate_key: str  # whom the rate limits count against
    team: str | None = None


class Store:
    """Everything the API keeps, in memory, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys_by_digest: dict[str, ApiKey] = {}
        self.keys_by_id: dict[str, ApiKey] = {}
        self.users_by_email: dict[str, User] = {}
        self.users_by_id: dict[str, User] = {}
        self.sandboxes: dict[str, dict] = {}
        self.files: dict[str, dict[str, bytes]] = {}
        # refresh-token jti -> user id, while unused
        self.live_refresh: dict[str, str] = {}
        # used refresh-token jti -> the jti of the refresh token issued in exchange
        self.used_refresh: dict[str, str] = {}

    # API keys --------------------------------------------------------------
    def create_key(self, team: str, name: str) -> tuple[ApiKey, str]:
        full = API_KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKey(
            id="key_" + uuid.uuid4().hex[:16],
            team=team,
            name=name[:100],
            digest=hashlib.sha256(full.encode()).hexdigest(),
            hint=full[:8],
            created_at=int(time.time()),
        )
        with self.lock:
            self.keys_by_digest[record.digest] = record
            self.keys_by_id[record.id] = record
        return record, full

    def find_key(self, presented: str) -> ApiKey | None:
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).hexdigest()
        record = self.keys_by_digest.get(digest)
        if record is None or record.revoked:
            return None
        return record

    def revoke_key(self, key_id: str, team: str) -> bool:
        with self.lock:
            record = self.keys_by_id.get(key_id)
            if record is None or record.team != team or record.revoked:
                return False
            record.revoked = True
            self.keys_by_digest.pop(record.digest, None)
            return True

    def team_keys(self, team: str) -> list[ApiKey]:
        with self.lock:
            return [k for k in self.keys_by_id.values() if k.team == team and not k.revoked]

    # users -------------------------------------------------------------------
    def add_user(self, email: str, password: str, team: str) -> User:
        # werkzeug's default (scrypt, n=32768) costs tens of milliseconds a login; a conformance
        # run logs in about a hundred times and the tests run twenty of them, so the peer hashes
        # with PBKDF2 at a test-sized cost. Nothing the harness checks depends on it.
        hashed = generate_password_hash(password, method="pbkdf2:sha256:1000")
        user = User("usr_" + uuid.uuid4().hex[:16], email, team, hashed)
        self.users_by_email[email] = user
        self.users_by_id[user.id] = user
        return user

    # sandboxes ---------------------------------------------------------------
    def create_sandbox(self, team: str, name: str) -> dict | None:
        with self.lock:
            if sum(1 for s in self.sandboxes.values() if s["team"] == team) >= MAX_SANDBOXES_PER_TEAM:
                return None
            sandbox = {
                "id": "sbx_" + secrets.token_hex(8),
                "name": name[:100],
                "team": team,
                "status": "running",
                "created_at": int(time.time()),
            }
            self.sandboxes[sandbox["id"]] = sandbox
            self.files[sandbox["id"]] = {}
            return sandbox


# --------------------------------------------------------------------------- the application


def create_app(config: argparse.Namespace, store: Store, secrets_: dict) -> Flask:
    faults = set(config.fault or [])
    window = int(config.window)
    jwt_secret = secrets_["jwt_secret"]
    admin_token = secrets_["admin_token"]

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_FILE_BYTES

    # ------------------------------------------------------------------ responses
    def unauthorized(message: str, scheme: str = 'Bearer realm="lelantos"'):
        response = jsonify(error=message)
        response.status_code = 401
        response.headers["WWW-Authenticate"] = scheme
        return response

    def error(status: int, message: str):
        response = jsonify(error=message)
        response.status_code = status
        return response

    # ------------------------------------------------------------------ tokens
    def issue_tokens(user: User) -> tuple[dict, str]:
        """A new session and refresh token pair, and the refresh token's jti."""
        now = int(time.time())
        refresh_jti = uuid.uuid4().hex
        access = jwt.encode(
            {"sub": user.id, "team": user.team, "type": "access", "iat": now,
             "exp": now + SESSION_TTL, "jti": uuid.uuid4().hex},
            jwt_secret, algorithm="HS256",
        )
        refresh = jwt.encode(
            {"sub": user.id, "type": "refresh", "iat": now, "exp": now + REFRESH_TTL,
             "jti": refresh_jti},
            jwt_secret, algorithm="HS256",
        )
        store.live_refresh[refresh_jti] = user.id
        return {
            "access_token": TOKEN_PREFIX + access,
            "refresh_token": TOKEN_PREFIX + refresh,
            "token_type": "Bearer",
            "expires_in": SESSION_TTL,
        }, refresh_jti

    key_dir = tempfile.mkdtemp(prefix="flask-peer-keys-")

    def signing_key(token: str):
        """The secret, or under `kid-file` the file the header's kid names."""
        kid = jwt.get_unverified_header(token).get("kid") if "kid-file" in faults else None
        if not isinstance(kid, str):
            return jwt_secret
        try:
            with open(os.path.join(key_dir, kid), "rb") as f:
                return f.read()
        except OSError as e:
            raise jwt.InvalidTokenError(f"no key {kid!r}") from e

    def fetch_jku(token: str) -> None:
        """Under `jku-fetch`: PyJWKClient fetches the header's jku (loopback URLs only)."""
        jku = jwt.get_unverified_header(token).get("jku")
        if not isinstance(jku, str) or not jku.startswith(("http://127.0.0.1:", "http://[::1]:")):
            return
        try:
            jwt.PyJWKClient(jku, timeout=2).get_signing_key_from_jwt(token)
        except jwt.PyJWKClientError:
            pass

    def decode_token(presented: str, refresh: bool = False) -> dict:
        """Claims of a token we issued, or jwt.InvalidTokenError."""
        if not presented.startswith(TOKEN_PREFIX):
            raise jwt.InvalidTokenError("missing prefix")
        token = presented[len(TOKEN_PREFIX):]
        required = ["iat", "sub", "type", "jti"] if "exp-not-required" in faults else [
            "exp", "iat", "sub", "type", "jti"]
        options: dict = {"require": required}
        algorithms = ["HS256"]
        if "jku-fetch" in faults:
            fetch_jku(token)
        if refresh and "refresh-verify-off" in faults:
            options.update(verify_signature=False, verify_exp=True, verify_nbf=True,
                           verify_iat=True)
        if refresh and "refresh-exp-ignored" in faults:
            options.update(verify_exp=False)
        if "verify-off" in faults:
            # The classic debugging shortcut left in; the time claims stay checked.
            options.update(verify_signature=False, verify_exp=True, verify_nbf=True,
                           verify_iat=True)
        if "algs-unpinned" in faults:
            alg = str(jwt.get_unverified_header(token).get("alg", ""))
            if alg.lower() == "none":
                options.update(verify_signature=False, verify_exp=True, verify_nbf=True,
                               verify_iat=True)
            elif alg in ("HS256", "HS384", "HS512"):
                algorithms = [alg]
        return jwt.decode(token, signing_key(token), algorithms=algorithms, options=options,
                          leeway=TOKEN_LEEWAY)

    # ------------------------------------------------------------------ authentication
    # Which credential each endpoint takes; resolved before the limiter runs, so that its key
    # function can count the request against the caller's identity.
    TEAM, ADMIN = "team", "admin"
    endpoint_auth: dict[str, str] = {}

    def authenticate_team() -> tuple[Principal | None, Response | None]:
        api_key = request.headers.get("X-API-Key")
        if api_key is not None:
            record = store.find_key(api_key) if api_key.startswith(API_KEY_PREFIX) else None
            if record is None:
                return None, unauthorized("invalid API key", 'ApiKey realm="lelantos"')
            rate_key = f"team:{record.team}" if config.limit_by == "team" else f"key:{record.id}"
            return Principal("api_key", rate_key, record.team), None

        authorization = request.headers.get("Authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None, unauthorized("unsupported authorization scheme")
            try:
                claims = decode_token(token.strip())
            except jwt.InvalidTokenError:
                return None, unauthorized("invalid or expired access token")
            user = store.users_by_id.get(str(claims.get("sub")))
            if claims.get("type") != "access" or user is None:
                return None, unauthorized("invalid or expired access token")
            return Principal("user", f"user:{user.id}", user.team), None

        if request.headers.get("X-Admin-Token") is not None:
            return None, error(403, "the admin token is for admin endpoints only")
        return None, unauthorized("authentication required", 'ApiKey realm="lelantos"')

    def authenticate_admin() -> tuple[Principal | None, Response | None]:
        presented = request.headers.get("X-Admin-Token")
        if presented is None:
            if request.headers.get("X-API-Key") is not None or request.headers.get("Authorization"):
                return None, error(403, "admin endpoints require the admin token")
            return None, unauthorized("admin token required", 'AdminToken realm="lelantos"')
        if not hmac.compare_digest(presented.encode("utf-8", "surrogateescape"),
                                   admin_token.encode()):
            return None, unauthorized("invalid admin token", 'AdminToken realm="lelantos"')
        return Principal("admin", "admin"), None

    @app.before_request
    def authenticate():
        g.principal, g.denial = None, None
        kind = endpoint_auth.get(request.endpoint or "")
        if kind == TEAM:
            g.principal, g.denial = authenticate_team()
        elif kind == ADMIN:
            g.principal, g.denial = authenticate_admin()

    def requires_auth(kind: str):
        def decorator(view):
            endpoint_auth[view.__name__] = kind

            @wraps(view)
            def wrapper(*args, **kwargs):
                if g.principal is None:
                    return g.denial
                return view(*args, **kwargs)

            return wrapper

        return decorator

    # ------------------------------------------------------------------ rate limits
    def rate_limit_key() -> str:
        if "limit-by-address" in faults:
            return get_remote_address()
        return g.principal.rate_key

    def not_authenticated() -> bool:
        return g.get("principal") is None

    limiter = Limiter(
        key_func=rate_limit_key,
        strategy=config.strategy,
        storage_uri="memory://",
        headers_enabled=False,
    )

    def category(name: str, **kwargs):
        """The shared limit for one endpoint category, counted per identity."""
        if "one-limiter" in faults:
            name = "general"
        kwargs.setdefault("exempt_when", not_authenticated)
        return limiter.shared_limit(f"{LIMITS[name]} per {window} second", scope=name, **kwargs)

    general = category("general")
    sandbox_creation = category("sandbox_creation")
    file_operations = category("file_operations")
    # Login and refresh carry no credential: they count per client address.
    general_by_address = category("general", key_func=get_remote_address,
                                  exempt_when=lambda: False)
    # Failed admin-token attempts count per client address, so the token cannot be guessed fast.
    admin_failures = limiter.shared_limit(
        f"{LIMITS['general']} per {window} second", scope="admin-failures",
        key_func=get_remote_address,
        deduct_when=lambda response: response.status_code == 401,
    )

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(exc: RateLimitExceeded):
        retry_after = window
        current = limiter.current_limit
        if current is not None:
            reset_at, _remaining = current.window
            retry_after = math.ceil(reset_at - time.time())
        retry_after = min(max(retry_after, 1), window)
        if "default-429-body" in faults:
            response = exc.get_response()
        else:
            response = jsonify(error="rate limit exceeded", retryAfter=retry_after)
            response.status_code = 429
        response.headers["Retry-After"] = str(retry_after)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        response = jsonify(error=(exc.name or "error").lower())
        response.status_code = exc.code or 500
        return response

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        app.logger.exception("unhandled error")
        return error(500, "internal error")

    # ------------------------------------------------------------------ auth endpoints
    @app.post("/auth/login")
    @general_by_address
    def login():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return error(400, "expected a JSON body with email and password")
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or not isinstance(password, str):
            return error(400, "expected a JSON body with email and password")
        user = store.users_by_email.get(email)
        if user is None or not check_password_hash(user.password_hash, password):
            return unauthorized("invalid email or password")
        with store.lock:
            tokens, _ = issue_tokens(user)
        return jsonify(tokens)

    @app.post("/auth/refresh")
    @general_by_address
    def refresh():
        body = request.get_json(silent=True)
        presented = body.get("refresh_token") if isinstance(body, dict) else None
        if not isinstance(presented, str) or not presented:
            return error(400, "expected a JSON body with refresh_token")
        try:
            claims = decode_token(presented, refresh=True)
        except jwt.InvalidTokenError:
            return unauthorized("invalid or expired refresh token")
        if claims.get("type") != "refresh":
            return unauthorized("not a refresh token")
        jti = str(claims["jti"])
        with store.lock:
            user_id = store.live_refresh.pop(jti, None)
            if user_id is None:
                # Replay of a used token: revoke whatever was issued in exchange for it.
                successor = store.used_refresh.get(jti)
                while successor is not None:
                    store.live_refresh.pop(successor, None)
                    successor = store.used_refresh.get(successor)
                return unauthorized("refresh token already used or revoked")
            user = store.users_by_id.get(user_id)
            if user is None or user.id != claims.get("sub"):
                return unauthorized("invalid refresh token")
            tokens, new_jti = issue_tokens(user)
            store.used_refresh[jti] = new_jti
        return jsonify(tokens)

    # ------------------------------------------------------------------ team endpoints
    def visible_sandbox(sandbox_id: str) -> dict | None:
        sandbox = store.sandboxes.get(sandbox_id)
        if sandbox is None or sandbox["team"] != g.principal.team:
            return None
        return sandbox

    @app.get("/sandboxes")
    @general
    @requires_auth(TEAM)
    def list_sandboxes():
        team = g.principal.team
        with store.lock:
            mine = [s for s in store.sandboxes.values() if s["team"] == team]
        return jsonify(sandboxes=mine)

    @app.post("/sandboxes")
    @sandbox_creation
    @requires_auth(TEAM)
    def create_sandbox():
        body = request.get_json(silent=True) or {}
        name = body.get("name") if isinstance(body, dict) else None
        sandbox = store.create_sandbox(g.principal.team, name if isinstance(name, str) else "sandbox")
        if sandbox is None:
            return error(409, "sandbox quota reached")
        return jsonify(sandbox), 201

    @app.get("/sandboxes/<sandbox_id>")
    @general
    @requires_auth(TEAM)
    def get_sandbox(sandbox_id: str):
        sandbox = visible_sandbox(sandbox_id)
        if sandbox is None:
            return error(404, "sandbox not found")
        return jsonify(sandbox)

    @app.put("/sandboxes/<sandbox_id>/files")
    @file_operations
    @requires_auth(TEAM)
    def upload_file(sandbox_id: str):
        sandbox = visible_sandbox(sandbox_id)
        if sandbox is None:
            return error(404, "sandbox not found")
        path = request.args.get("path", "")
        if not path or len(path) > 1024:
            return error(400, "the path query parameter is required")
        data = request.get_data(cache=False)
        with store.lock:
            files = store.files[sandbox["id"]]
            if path not in files and len(files) >= MAX_FILES_PER_SANDBOX:
                return error(409, "file quota reached")
            files[path] = data
        return jsonify(path=path, size=len(data)), 201

    @app.get("/sandboxes/<sandbox_id>/files")
    @file_operations
    @requires_auth(TEAM)
    def download_file(sandbox_id: str):
        sandbox = visible_sandbox(sandbox_id)
        if sandbox is None:
            return error(404, "sandbox not found")
        path = request.args.get("path", "")
        data = store.files[sandbox["id"]].get(path)
        if data is None:
            return error(404, "file not found")
        return Response(data, mimetype="application/octet-stream")

    @app.post("/api-keys")
    @general
    @requires_auth(TEAM)
    def create_api_key():
        body = request.get_json(silent=True) or {}
        name = body.get("name") if isinstance(body, dict) else None
        if len(store.team_keys(g.principal.team)) >= MAX_KEYS_PER_TEAM:
            return error(409, "API key quota reached")
        record, full = store.create_key(g.principal.team, name if isinstance(name, str) else "")
        return jsonify(id=record.id, name=record.name, key=full, created_at=record.created_at), 201

    @app.get("/api-keys")
    @general
    @requires_auth(TEAM)
    def list_api_keys():
        keys = [
            {"id": k.id, "name": k.name, "prefix": k.hint, "created_at": k.created_at}
            for k in store.team_keys(g.principal.team)
        ]
        return jsonify(api_keys=keys)

    @app.delete("/api-keys/<key_id>")
    @general
    @requires_auth(TEAM)
    def revoke_api_key(key_id: str):
        if not store.revoke_key(key_id, g.principal.team):
            return error(404, "API key not found")
        return "", 204

    # ------------------------------------------------------------------ admin endpoints
    @app.get("/admin/users")
    @admin_failures
    @general
    @requires_auth(ADMIN)
    def admin_users():
        users = [{"id": u.id, "email": u.email, "team": u.team}
                 for u in store.users_by_id.values()]
        return jsonify(users=users)

    @app.get("/admin/nodes")
    @admin_failures
    @general
    @requires_auth(ADMIN)
    def admin_nodes():
        return jsonify(nodes=[{"id": "node-1", "status": "ready", "sandboxes": len(store.sandboxes)}])

    # Limits declared with decorators are checked when the view is called, i.e. after
    # `authenticate` (a before_request hook) has found the caller; the limit decorators sit
    # outside `requires_auth`, so failed admin-token attempts are counted too.
    limiter.init_app(app)
    return app


# --------------------------------------------------------------------------- start-up


def provision(store: Store, identities: int) -> dict:
    """Teams A and B, one user in team A, the admin token and the JWT secret."""
    _, api_key = store.create_key("team-a", "conformance")
    _, api_key_other_team = store.create_key("team-b", "conformance")
    revoked, api_key_revoked = store.create_key("team-a", "revoked")
    store.revoke_key(revoked.id, "team-a")
    email, password = "conformance@team-a.example", secrets.token_urlsafe(18)
    store.add_user(email, password, "team-a")
    store.create_sandbox("team-a", "team-a-sandbox")
    other = store.create_sandbox("team-b", "team-b-sandbox")
    extra = [store.create_key(f"load-{i}", "load")[1] for i in range(identities)]
    return {
        "api_key": api_key,
        "api_key_other_team": api_key_other_team,
        "api_key_revoked": api_key_revoked,
        "email": email,
        "password": password,
        "admin_token": secrets.token_urlsafe(32),
        "jwt_secret": secrets.token_urlsafe(48),
        "other_team_sandbox": other["id"],
        "extra_api_keys": extra,
    }


def write_credentials(path: str, credentials: dict) -> None:
    """Write the file atomically, readable by its owner only."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".credentials-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(credentials, f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--window", type=float, default=60.0,
                        help="rate-limit window in seconds for every category (default 60)")
    parser.add_argument("--strategy", choices=sorted(STRATEGIES), default="fixed-window",
                        help="Flask-Limiter / limits strategy (default fixed-window)")
    parser.add_argument("--limit-by", choices=["key", "team"], default="key",
                        help="whom an API key's requests count against: the key (default) or "
                        "its team (every key of a team shares one budget per category)")
    parser.add_argument("--credentials-out", metavar="FILE",
                        help="write the credentials as JSON (mode 0600)")
    parser.add_argument("--identities", type=int, default=0,
                        help="extra API keys, each of its own team (extra_api_keys)")
    parser.add_argument("--fault", action="append", choices=sorted(FAULTS), default=[],
                        help="switch on a misconfiguration (repeatable): "
                        + "; ".join(f"{k}: {v}" for k, v in FAULTS.items()))
    parser.add_argument("--log-requests", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)
    if args.window < 1 or args.window != int(args.window):
        parser.error("--window must be a whole number of seconds >= 1 "
                     "(the limits package counts in whole seconds)")
    if args.identities < 0:
        parser.error("--identities must be >= 0")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.log_requests:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    store = Store()
    credentials = provision(store, args.identities)
    app = create_app(args, store, credentials)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    base_url = f"http://127.0.0.1:{server.port}"
    if args.credentials_out:
        write_credentials(args.credentials_out, {"base_url": base_url, **credentials})
    print(f"listening on {base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
