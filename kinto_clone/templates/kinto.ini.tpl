# Written by `kinto init` (kinto-clone ${version}) on ${created}.
#
# Settings use Kinto's names, so Kinto's settings documentation applies.  Each
# `kinto.<name>` setting can also be set from the environment variable
# KINTO_<NAME> (upper case, dots and dashes as underscores); the variable wins.
# `%(here)s` is the folder of this file; `%(http_port)s` is `kinto start --port`.

[server:main]
use = egg:waitress#main
host = ${host}
port = %(http_port)s


[app:main]
use = egg:kinto_clone

# Plugins, loaded in this order after the core.
kinto.includes = kinto.plugins.default_bucket
                 kinto.plugins.admin
                 kinto.plugins.accounts

# Backends: where objects, permissions and short-lived cache entries live.
kinto.storage_backend = ${storage_backend}
kinto.storage_url = ${storage_url}
kinto.permission_backend = ${permission_backend}
kinto.permission_url = ${permission_url}
kinto.cache_backend = ${cache_backend}
kinto.cache_url = ${cache_url}
# kinto.storage_max_fetch_size = 10000
# kinto.cache_prefix =
# kinto.cache_max_size_bytes = 524288

# Secrets, generated for this file only: keep them private and stable (changing
# userid_hmac_secret changes every Basic-Auth user id, changing
# default_bucket_hmac_secret changes every user's default bucket id).
kinto.userid_hmac_secret = ${userid_hmac_secret}
kinto.default_bucket_hmac_secret = ${default_bucket_hmac_secret}

# Authentication with accounts stored by the server itself (`/v1/accounts`);
# create the administrator with `kinto create-user -u admin`.
multiauth.policies = account
multiauth.policy.account.use = kinto.plugins.accounts.AccountsPolicy
# Anybody may sign up; `account:admin` manages every account and alone may
# create buckets.
kinto.account_create_principals = system.Everyone
kinto.account_write_principals = account:admin
kinto.bucket_create_principals = account:admin

# Features (defaults shown).
# kinto.readonly = false
# kinto.batch_max_requests = 25
# kinto.paginate_by =
# kinto.experimental_collection_schema_validation = false
# kinto.experimental_permissions_endpoint = false
# kinto.explicit_permissions = true

# Behind a proxy: the scheme and host clients use to reach this server.
# kinto.http_scheme = https
# kinto.http_host = kinto.example.com

# Cross-origin requests.
# kinto.cors_origins = *

# Telling clients to slow down or that the service ends.
# kinto.backoff =
# kinto.retry_after_seconds = 3
# kinto.eos =
# kinto.eos_message =
# kinto.eos_url =


# Logging: messages go to standard error.
[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = color, json

[logger_root]
level = INFO
handlers = console

# Each request is logged as one `request.summary` line (level INFO).
[handler_console]
class = kinto.core.StreamHandlerWithRequestID
args = (sys.stderr,)
level = NOTSET
formatter = color

[formatter_color]
class = logging_color_formatter.ColorFormatter

# JSON lines (mozlog) for log collectors: set `formatter = json` above.
[formatter_json]
class = kinto.core.JsonLogFormatter
