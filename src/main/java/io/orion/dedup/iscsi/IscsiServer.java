package io.orion.dedup.iscsi;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.orion.dedup.iscsi.pdu.Framing;
import io.orion.dedup.iscsi.pdu.PduDecoder;
import io.orion.dedup.iscsi.pdu.PduEncoder;
import io.orion.dedup.iscsi.session.IscsiSession;
import io.orion.dedup.iscsi.session.IscsiConnection;
import io.orion.dedup.iscsi.session.ServerContext;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The iSCSI target transport (RFC 7143, ErrorRecoveryLevel 0) on Netty: listens on one or more
 * portals, runs login, discovery and full-feature sessions, and hands SCSI commands to each
 * target's {@link io.orion.dedup.scsi.ScsiTarget}.
 *
 * <p>Portals (network portals, RFC 7143 §4.2.6) are added with {@link #bind} and withdrawn with
 * {@link #unbind} at any time. Withdrawing a portal closes its listening socket, so new
 * connections to it are refused, and ends logins still in progress through it; connections that
 * already logged in through it keep running until they log out — what LIO does when a network
 * portal is deleted (the login thread of the portal is reset, established connections stay).
 *
 * <p>Threads: one acceptor thread and a pool of I/O event loops (epoll when available, else NIO).
 * Each connection lives on one event loop; block I/O runs in the command layer, never here.
 */
public final class IscsiServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(IscsiServer.class);

    private final ServerContext context;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Class<? extends ServerChannel> channelClass;
    /** Listening channels by the address each is bound to, with the connections each accepted. */
    private final Map<InetSocketAddress, Listener> listeners = new ConcurrentHashMap<>();
    private volatile boolean closed;

    public IscsiServer(TargetCatalog catalog, IscsiServerOptions options) {
        this.context = ServerContext.create(catalog, options);
        IoHandlerFactory factory = epollFactory();
        if (factory != null) {
            channelClass = epollChannel();
        } else {
            factory = NioIoHandler.newFactory();
            channelClass = NioServerSocketChannel.class;
        }
        // thread names that say what they are in logs and jstack: iscsi-boss (accepts), iscsi-io-N (connections)
        this.boss = new MultiThreadIoEventLoopGroup(1, new NamedThreads("iscsi-boss", false), factory);
        this.workers = new MultiThreadIoEventLoopGroup(0, new NamedThreads("iscsi-io-", true), factory);
    }

    /**
     * The epoll transport when {@code Epoll.isAvailable()}. Looked up reflectively because the
     * native transport is a runtime-only dependency of the build.
     */
    private static IoHandlerFactory epollFactory() {
        try {
            Class<?> epoll = Class.forName("io.netty.channel.epoll.Epoll");
            if (!(Boolean) epoll.getMethod("isAvailable").invoke(null)) {
                return null;
            }
            return (IoHandlerFactory) Class.forName("io.netty.channel.epoll.EpollIoHandler")
                    .getMethod("newFactory").invoke(null);
        } catch (ReflectiveOperationException | LinkageError e) {
            return null;
        }
    }

    @SuppressWarnings("unchecked")
    private static Class<? extends ServerChannel> epollChannel() {
        try {
            return (Class<? extends ServerChannel>) Class.forName("io.netty.channel.epoll.EpollServerSocketChannel");
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One listening channel and the connections it accepted that are still open. */
    private record Listener(Channel channel, Set<IscsiConnection> connections, AtomicBoolean withdrawn) {
    }

    /**
     * Starts listening on {@code address} (port 0 picks a free port). May be called for several
     * portals, also while the server runs. Returns the address actually bound.
     */
    public synchronized InetSocketAddress bind(InetSocketAddress address) throws IOException {
        if (closed) {
            throw new IllegalStateException("server closed");
        }
        Set<IscsiConnection> accepted = ConcurrentHashMap.newKeySet();
        AtomicBoolean withdrawn = new AtomicBoolean();
        ServerBootstrap b = new ServerBootstrap()
                .group(boss, workers)
                .channel(channelClass)
                .option(ChannelOption.SO_BACKLOG, 256)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(2 << 20, 8 << 20))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        // 8192 bytes in login (RFC 7143 §13.12); the connection's own limit from
                        // full feature on (IscsiConnection.enterFullFeature)
                        Framing framing = new Framing(Framing.LOGIN_SEGMENT_LIMIT);
                        PduDecoder decoder = new PduDecoder(framing);
                        // Responses completed together leave in one write: flushes during a read
                        // wait for its end, others are merged into one task on the event loop.
                        ch.pipeline().addLast("flush", new FlushConsolidationHandler(256, true));
                        ch.pipeline().addLast("decoder", decoder);
                        ch.pipeline().addLast("encoder", new PduEncoder(framing));
                        IscsiConnection conn = new IscsiConnection(context, framing, decoder);
                        ch.pipeline().addLast("iscsi", conn);
                        accepted.add(conn);
                        ch.closeFuture().addListener(f -> accepted.remove(conn));
                        if (withdrawn.get()) {
                            // Accepted from the socket just before it closed: unbind may not have
                            // seen this connection, so it ends its own login here.
                            conn.closeIfStillInLogin("portal " + ch.localAddress() + " withdrawn");
                        }
                    }
                });
        try {
            Channel ch = b.bind(address).sync().channel();
            InetSocketAddress bound = (InetSocketAddress) ch.localAddress();
            listeners.put(bound, new Listener(ch, accepted, withdrawn));
            LOG.info("iSCSI portal listening on {}", bound);
            return bound;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while binding " + address, e);
        } catch (Exception e) {
            throw new IOException("cannot bind iSCSI portal " + address + ": " + e.getMessage(), e);
        }
    }

    /**
     * Stops listening on {@code bound} (an address {@link #bind} returned): the listening socket
     * closes, so new connections are refused; logins still in progress through it are ended;
     * logged-in connections accepted through it keep running. Returns false if nothing listens
     * there.
     */
    public synchronized boolean unbind(InetSocketAddress bound) {
        Listener l = listeners.remove(bound);
        if (l == null) {
            return false;
        }
        l.withdrawn().set(true);
        l.channel().close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        for (IscsiConnection c : l.connections()) {
            c.closeIfStillInLogin("portal " + bound + " withdrawn");
        }
        LOG.info("iSCSI portal {} withdrawn; {} connection(s) accepted through it stay", bound,
                l.connections().size());
        return true;
    }

    /** The addresses listened on now. */
    public List<InetSocketAddress> listening() {
        return List.copyOf(listeners.keySet());
    }

    /** Snapshots of the sessions now logged in. */
    public Collection<SessionInfo> sessions() {
        return context.registry().sessions().stream().map(IscsiSession::info).toList();
    }

    /** True if a session of {@code target} has sent commands to {@code lun}. */
    public boolean lunInUse(String target, long lun) {
        return context.registry().sessions().stream()
                .anyMatch(s -> !s.discovery() && s.target().name().equalsIgnoreCase(target) && s.usesLun(lun));
    }

    /**
     * Drops every session logged in to {@code target} (for example after the target was removed
     * from the catalog); each session's nexus is reported lost. Returns how many were dropped.
     */
    public int dropSessions(String target) {
        return dropSessions(target, null);
    }

    /**
     * Drops the sessions of {@code initiator} (every initiator if null) logged in to
     * {@code target}: their connections are closed without a Logout exchange — what LIO does when
     * a target portal group is deleted with force or a node ACL is removed — and each session's
     * nexus is reported lost to the command layer. Waits up to five seconds for the sessions to
     * end, so a caller sees them gone. Returns how many were dropped.
     */
    public int dropSessions(String target, String initiator) {
        List<IscsiSession> dropped = new java.util.ArrayList<>();
        for (IscsiSession s : context.registry().sessions()) {
            if (!s.discovery() && s.target().name().equalsIgnoreCase(target)
                    && (initiator == null || s.initiatorName().equalsIgnoreCase(initiator))) {
                s.drop(initiator == null ? "target " + target + " withdrawn"
                        : "ACL of " + initiator + " on " + target + " removed");
                dropped.add(s);
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (dropped.stream().anyMatch(s -> !s.ended()) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (!dropped.isEmpty()) {
            LOG.info("dropped {} session(s) of {}{}", dropped.size(), target,
                    initiator == null ? "" : " from " + initiator);
        }
        return dropped.size();
    }

    /**
     * Stops listening, asks initiators to log out (Async Message, RFC 7143 §11.9.1), waits up to one
     * second, then drops the remaining connections (each session's nexus is reported lost) and
     * shuts the event loops down.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        synchronized (this) {
            for (Listener l : listeners.values()) {
                l.channel().close().awaitUninterruptibly(2, TimeUnit.SECONDS);
            }
            listeners.clear();
        }
        Collection<IscsiSession> sessions = context.registry().sessions();
        if (!sessions.isEmpty()) {
            for (IscsiSession s : sessions) {
                s.requestLogout(1);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
            while (!context.registry().sessions().isEmpty() && System.nanoTime() < deadline) {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            for (IscsiSession s : context.registry().sessions()) {
                s.drop("server shutting down");
            }
        }
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        LOG.info("iSCSI server stopped");
    }

    /**
     * Netty event-loop threads named {@code name} or {@code name1}, {@code name2}, ... with {@code numbered}
     * (Netty's own names are {@code multiThreadIoEventLoopGroup-3-1}).
     */
    static final class NamedThreads extends DefaultThreadFactory {
        private final String name;
        private final boolean numbered;
        private final java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();

        NamedThreads(String name, boolean numbered) {
            super(name, false);
            this.name = name;
            this.numbered = numbered;
        }

        @Override
        protected Thread newThread(Runnable r, String ignored) {
            return super.newThread(r, numbered ? name + next.incrementAndGet() : name);
        }
    }
}
