package io.orion.dedup.cli;

import io.orion.dedup.config.OrionConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Stands in for io.orion.dedup.server.OrionServer with the same static start signature: binds
 * real listening sockets and, on close, writes {@code <data>/closed} so a test can see the clean
 * shutdown happened.
 */
public final class FakeOrionServer {

    private final List<ServerSocket> sockets;
    private final Path dataDir;
    private final CountDownLatch stopped = new CountDownLatch(1);

    private FakeOrionServer(List<ServerSocket> sockets, Path dataDir) {
        this.sockets = sockets;
        this.dataDir = dataDir;
    }

    public static FakeOrionServer start(OrionConfig config, Path configFile, Path targetsDir, Path dataDir,
            List<InetSocketAddress> listenOverride) throws IOException {
        List<InetSocketAddress> addresses = listenOverride.isEmpty()
                ? config.server().portals().stream().map(h -> h.toSocketAddress()).toList() : listenOverride;
        List<ServerSocket> sockets = new ArrayList<>();
        for (InetSocketAddress a : addresses) {
            ServerSocket s = new ServerSocket();
            s.bind(a);
            sockets.add(s);
        }
        Files.createDirectories(dataDir);
        Files.writeString(dataDir.resolve("started"), configFile + "\n" + targetsDir + "\n");
        return new FakeOrionServer(sockets, dataDir);
    }

    public List<InetSocketAddress> portals() {
        return sockets.stream().map(s -> (InetSocketAddress) s.getLocalSocketAddress()).toList();
    }

    public void close() throws IOException {
        for (ServerSocket s : sockets) {
            s.close();
        }
        Files.writeString(dataDir.resolve("closed"), "clean\n");
        stopped.countDown();
    }

    public void awaitTermination() throws InterruptedException {
        stopped.await();
    }
}
