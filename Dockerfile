# xgate appliance image. SQLite is linked through cgo, so the build stage needs gcc and the
# runtime stage glibc (Debian slim).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o /out/xgate ./cmd/xgate

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /data --shell /usr/sbin/nologin xgate \
    && mkdir -p /data && chown xgate /data
COPY --from=build /out/xgate /usr/local/bin/xgate
USER xgate
VOLUME /data
# MQTT, MQTT over WebSocket, STOMP tcp and ssl, MQTT-SN and CoAP udp and dtls, HTTP API
EXPOSE 1883 8083 61613 61614 1884/udp 1885/udp 5683/udp 5684/udp 18083
ENTRYPOINT ["/usr/local/bin/xgate", "--data-dir", "/data"]
