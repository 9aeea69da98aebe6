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
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The iSCSI target transport (RFC 7143, ErrorRecoveryLevel 0) on Netty: listens on one or more
 * portals, runs login, discovery and full-feature sessions, and hands SCSI commands to each
 * target's {@link io.orion.dedup.scsi.ScsiTarget}.
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
    private final List<Channel> listeners = new CopyOnWriteArrayList<>();
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
        this.boss = new MultiThreadIoEventLoopGroup(1, factory);
        this.workers = new MultiThreadIoEventLoopGroup(0, factory);
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

    /**
     * Starts listening on {@code address} (port 0 picks a free port). May be called for several
     * portals. Returns the address actually bound.
     */
    public InetSocketAddress bind(InetSocketAddress address) throws IOException {
        if (closed) {
            throw new IllegalStateException("server closed");
        }
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
                        Framing framing = new Framing(Math.max(Framing.LOGIN_SEGMENT_LIMIT,
                                context.options().maxRecvDataSegmentLength()));
                        PduDecoder decoder = new PduDecoder(framing);
                        ch.pipeline().addLast("decoder", decoder);
                        ch.pipeline().addLast("encoder", new PduEncoder(framing));
                        ch.pipeline().addLast("iscsi", new IscsiConnection(context, framing, decoder));
                    }
                });
        try {
            Channel ch = b.bind(address).sync().channel();
            listeners.add(ch);
            InetSocketAddress bound = (InetSocketAddress) ch.localAddress();
            LOG.info("iSCSI portal listening on {}", bound);
            return bound;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while binding " + address, e);
        } catch (Exception e) {
            throw new IOException("cannot bind iSCSI portal " + address + ": " + e.getMessage(), e);
        }
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
        int n = 0;
        for (IscsiSession s : context.registry().sessions()) {
            if (!s.discovery() && s.target().name().equalsIgnoreCase(target)) {
                s.drop("target " + target + " withdrawn");
                n++;
            }
        }
        return n;
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
        for (Channel ch : listeners) {
            ch.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
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
}
