# cnmd in a container: it manages the host's networking, so run it with the host's network namespace
# and NET_ADMIN, e.g.
#   docker run --rm --network host --cap-add NET_ADMIN -v /run:/run -v /var/lib/cnmd:/var/lib/cnmd cnmd
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 iptables && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
COPY openapi ./openapi
ENTRYPOINT ["node", "--max-semi-space-size=1", "dist/cnmd.js"]
