# miles-bff image: a build stage that compiles the TypeScript with the dev
# dependencies, and a runtime stage that holds only the compiled code, the
# production dependencies and the demo page's static files.
# Build: docker build -t miles-bff:0.1.0 .
# No secret is baked in: every secret comes from the environment (or a
# <NAME>_FILE mount) at run time; see k8s/README.md.

# Pinned to an exact Node 24 (LTS) release so that a rebuild gives the same runtime, and
# the same release as the `node` dev dependency the tests run on; bump them together
# (docs/operations.md, "Bump Node").
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /app
# The lockfile first, as its own layer: a source-only change reuses it. The
# client's package.json belongs with it: the lockfile names that workspace.
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.client.json ./
COPY packages/client/tsconfig.json ./packages/client/
COPY packages/client/src ./packages/client/src
COPY src ./src
RUN npm run build

FROM node:24.21.0-bookworm-slim AS runtime
ENV NODE_ENV=production
# V8 sizes its old space from the host's memory, not the pod's limit: unbounded, promoted
# garbage grows the heap to ~230 MB under load before a full collection, where the live heap
# is ~30 MB. 128 MB keeps the RSS near 125 MB under load, inside the Deployment's 256Mi limit
# (docs/benchmarks.md). Raise it with the limit (NODE_OPTIONS in the Deployment's env).
# The young generation is bounded too: left to itself it grows to two 32 MB semi-spaces
# under load, and once the old space plus a semi-space no longer fits the bound, V8 runs a
# full collection instead of every scavenge (one every ~150 ms with 30 MB live).
ENV NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=8"
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
# --ignore-scripts: the production tree needs no install script, and none of
# a dependency's scripts should run in the image we ship.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY public ./public
# The image's own `node` user (uid/gid 1000), numeric so that Kubernetes'
# runAsNonRoot can check it without reading /etc/passwd.
USER 1000:1000
# PORT (public: /api, demo page) and INTERNAL_PORT (probes, /metrics, /internal).
EXPOSE 3000 9091
# The slim image has no curl: ask node itself. Follows INTERNAL_PORT when it is
# changed. Kubernetes ignores this and uses the probes of k8s/base/deployment.yaml.
# During the start period a failed check does not count: a start that reads
# secrets and reaches Redis is not reported unhealthy.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:'+(process.env.INTERNAL_PORT||9091)+'/healthz',{timeout:2000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]
# The go-live check ships in the same image, run with the deployment's own
# settings (README "Going live"):
#   docker run --rm --env-file production.env miles-bff:0.1.0 node dist/doctor.js
# What `npm start` runs once its prestart build is done; node directly (not
# npm) so that SIGTERM reaches the process and its graceful shutdown.
CMD ["node", "dist/server.js"]
