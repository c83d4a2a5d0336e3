# The badge service (and the Feishu emulator, for development stacks) as one image.
# Not built on the project's machines (no Docker engine there); kept minimal.

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
COPY scripts/build-console.mjs ./scripts/
RUN npm run build && npm prune --omit=dev

FROM node:24-slim
# tini as PID 1: forwards SIGTERM to Node (which then drains within SHUTDOWN_GRACE_MS) and reaps zombies.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
# NODE_USE_ENV_PROXY: fetch (the Feishu client) honours HTTPS_PROXY / NO_PROXY when they are set; no effect otherwise.
ENV NODE_ENV=production NODE_USE_ENV_PROXY=1
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
ENTRYPOINT ["/usr/bin/tini", "--"]
# node itself, not npm: npm would sit between tini and Node. The flags are npm run start:service's (README,
# "Memory"): V8's young generation capped (8 MB semi-spaces) instead of growing to 128 MB.
CMD ["node", "--max-semi-space-size=8", "dist/apps/badge-service/apps/badge-service/src/main.js"]
# Migrations as a job: docker run --rm <image> node dist/apps/badge-service/apps/badge-service/src/migrate.js
