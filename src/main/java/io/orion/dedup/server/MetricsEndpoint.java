package io.orion.dedup.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.orion.dedup.config.HostPort;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Prometheus scrape endpoint: {@code GET /metrics} on the {@code [metrics] listen} address
 * answers the text exposition format (version 0.0.4); every other path is 404, every other method
 * 405. One daemon thread serves requests, so a slow scraper cannot take CPU from I/O.
 */
final class MetricsEndpoint implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(MetricsEndpoint.class);
    static final String PATH = "/metrics";

    private final HttpServer http;
    private final ExecutorService thread;

    private MetricsEndpoint(HttpServer http, ExecutorService thread) {
        this.http = http;
        this.thread = thread;
    }

    /** Binds {@code listen} and starts serving {@code metrics}. */
    static MetricsEndpoint start(HostPort listen, ServerMetrics metrics) throws IOException {
        HttpServer http = HttpServer.create(listen.toSocketAddress(), 16);
        ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "metrics-http");
            t.setDaemon(true);
            return t;
        });
        http.setExecutor(thread);
        http.createContext("/", exchange -> handle(exchange, metrics));
        http.start();
        MetricsEndpoint e = new MetricsEndpoint(http, thread);
        LOG.info("metrics endpoint listening on http://{}{}", new HostPort(
                e.address().getAddress().getHostAddress(), e.address().getPort()), PATH);
        return e;
    }

    private static void handle(HttpExchange ex, ServerMetrics metrics) throws IOException {
        try (ex) {
            if (!PATH.equals(ex.getRequestURI().getPath())) {
                reply(ex, 404, "not found; metrics are at " + PATH + "\n");
            } else if (!"GET".equals(ex.getRequestMethod()) && !"HEAD".equals(ex.getRequestMethod())) {
                ex.getResponseHeaders().add("Allow", "GET, HEAD");
                reply(ex, 405, "method not allowed\n");
            } else {
                String body;
                try {
                    body = metrics.scrape();
                } catch (RuntimeException e) {
                    LOG.warn("metrics scrape failed: {}", e.toString());
                    reply(ex, 500, "scrape failed\n");
                    return;
                }
                ex.getResponseHeaders().add("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                reply(ex, 200, body);
            }
        }
    }

    private static void reply(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        boolean head = "HEAD".equals(ex.getRequestMethod());
        ex.sendResponseHeaders(status, head ? -1 : b.length);
        if (!head) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(b);
            }
        }
    }

    /** The address actually bound. */
    InetSocketAddress address() {
        return http.getAddress();
    }

    @Override
    public void close() {
        http.stop(0);
        thread.shutdownNow();
    }
}
