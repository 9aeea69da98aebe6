package io.orion.dedup.admin;

import io.orion.dedup.blockdev.PrivateFiles;
import java.io.Closeable;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves an {@link AdminApi} on a Unix domain socket ({@code <data>/control.sock}) with the
 * {@link AdminProtocol} (JSON-RPC 2.0, {@link JsonRpcHandler}). Access control is the socket's file mode (0660 by default): only the
 * owner and group can connect, so only they can administer the server.
 *
 * <p>Threads: one acceptor thread, plus one daemon thread per connected client that reads a
 * request line, calls the API and writes the response line, in order. Requests of different
 * clients run concurrently; the API implementation serialises what must be serialised.
 * {@link #close()} stops accepting, closes every connection and removes the socket file.
 */
public final class ControlServer implements Closeable {

    private static final Logger LOG = LoggerFactory.getLogger(ControlServer.class);

    private final ServerSocketChannel server;
    private final Path socket;
    private final JsonRpcHandler rpc;
    private final Set<SocketChannel> clients = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connections = new AtomicInteger();
    private final Thread acceptor;
    private volatile boolean closed;

    private ControlServer(ServerSocketChannel server, Path socket, AdminApi api) {
        this.server = server;
        this.socket = socket;
        this.rpc = new JsonRpcHandler(new AdminDispatcher(api));
        this.acceptor = new Thread(this::acceptLoop, "control-accept");
        this.acceptor.setDaemon(true);
    }

    /**
     * Binds the socket (replacing a stale socket file left by a crashed server), sets its mode and
     * starts serving.
     *
     * @throws IOException when another server is already listening there, or binding fails
     */
    public static ControlServer start(AdminApi api, Path socket, Set<PosixFilePermission> mode) throws IOException {
        return start(api, socket, mode, null);
    }

    /**
     * As {@link #start(AdminApi, Path, Set)}, and gives the socket to {@code group} (null: the
     * server's own group).
     */
    public static ControlServer start(AdminApi api, Path socket, Set<PosixFilePermission> mode, String group)
            throws IOException {
        Path parent = socket.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        if (Files.exists(socket)) {
            if (listening(socket)) {
                throw new IOException("another server is already listening on " + socket);
            }
            Files.delete(socket);
        }
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(socket));
            Files.setPosixFilePermissions(socket, mode);
            if (group != null) {
                PrivateFiles.setGroup(socket, group, mode);
            }
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        ControlServer s = new ControlServer(ch, socket, api);
        s.acceptor.start();
        LOG.info("control socket listening on {}", socket);
        return s;
    }

    private static boolean listening(Path socket) {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            return c.isConnected();
        } catch (IOException e) {
            return false;
        }
    }

    /** The socket path. */
    public Path socket() {
        return socket;
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel c;
            try {
                c = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) {
                    LOG.warn("control socket accept failed: {}", e.toString());
                }
                return;
            }
            clients.add(c);
            Thread t = new Thread(() -> serve(c), "control-" + connections.incrementAndGet());
            t.setDaemon(true);
            t.start();
        }
    }

    private void serve(SocketChannel c) {
        ControlAudit.Peer peer = ControlAudit.Peer.of(c);
        try (LineChannel lines = new LineChannel(c, AdminProtocol.MAX_LINE)) {
            String line;
            while ((line = readLine(lines)) != null) {
                if (line.isBlank()) {
                    continue;
                }
                String response = rpc.handle(line, peer);
                if (response != null) {
                    lines.writeLine(response);
                }
            }
        } catch (IOException e) {
            if (!closed) {
                LOG.debug("control connection ended: {}", e.toString());
            }
        } finally {
            clients.remove(c);
        }
    }

    private String readLine(LineChannel lines) throws IOException {
        try {
            return lines.readLine();
        } catch (LineChannel.LineTooLongException e) {
            lines.writeLine(rpc.tooLong(AdminProtocol.MAX_LINE));
            return null;
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        server.close();
        for (SocketChannel c : clients) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        try {
            acceptor.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Files.deleteIfExists(socket);
    }
}
