package io.orion.dedup.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The systemd readiness protocol (sd_notify(3)) for {@code Type=notify}: when systemd started the
 * server it set {@code NOTIFY_SOCKET}, and {@code serve} sends {@code READY=1} on it once logins are
 * accepted (and {@code STOPPING=1} when it shuts down). The datagram goes from the JVM itself, the
 * service's main process, so the unit needs only {@code NotifyAccess=main}; Java has no Unix datagram
 * sockets, Netty's native transport (already used for epoll) sends it. Without {@code NOTIFY_SOCKET}
 * nothing is sent.
 */
final class SystemdNotify {

    private SystemdNotify() {}

    /** Sends {@code state} to {@code $NOTIFY_SOCKET}; false when unset. */
    static boolean notify(String state) throws IOException {
        String socket = System.getenv("NOTIFY_SOCKET");
        if (socket == null || socket.isEmpty()) {
            return false;
        }
        send(socket, state);
        return true;
    }

    /**
     * Loads Netty's native library (Epoll's class initialisation does; reflectively, as the epoll classes
     * are a runtime dependency of the build).
     */
    static void loadNative() throws ReflectiveOperationException, IOException {
        Class<?> epoll = Class.forName("io.netty.channel.epoll.Epoll");
        if (!(Boolean) epoll.getMethod("isAvailable").invoke(null)) {
            throw new IOException("cannot notify systemd: no native transport: "
                    + epoll.getMethod("unavailabilityCause").invoke(null));
        }
    }

    /**
     * Sends one datagram to a Unix datagram socket: a path, or {@code @name} for the abstract namespace.
     *
     * @throws IOException when it cannot be sent (also when this platform has no native transport)
     */
    static void send(String socket, String state) throws IOException {
        byte[] address;
        if (socket.startsWith("@")) {
            address = socket.getBytes(StandardCharsets.UTF_8);
            address[0] = 0; // abstract namespace
        } else if (socket.startsWith("/")) {
            address = Path.of(socket).toString().getBytes(StandardCharsets.UTF_8);
        } else {
            throw new IOException("NOTIFY_SOCKET is neither a path nor @abstract: " + socket);
        }
        io.netty.channel.unix.Socket s;
        try {
            loadNative();
            s = io.netty.channel.unix.Socket.newSocketDomainDgram();
        } catch (LinkageError | RuntimeException | ReflectiveOperationException e) {
            throw new IOException("cannot notify systemd: " + e, e);
        }
        try {
            byte[] msg = state.getBytes(StandardCharsets.UTF_8);
            ByteBuffer b = ByteBuffer.allocateDirect(msg.length).put(msg).flip();
            int n = s.sendToDomainSocket(b, 0, msg.length, address);
            if (n != msg.length) {
                throw new IOException("cannot notify systemd: sent " + n + " of " + msg.length + " bytes to " + socket);
            }
        } finally {
            s.close();
        }
    }
}
