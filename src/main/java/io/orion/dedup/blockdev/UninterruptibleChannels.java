package io.orion.dedup.blockdev;

import java.lang.reflect.Method;
import java.nio.channels.FileChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes a {@link FileChannel} ignore thread interrupts. A FileChannel is an interruptible
 * channel: a thread interrupted during (or before) a read, write or force closes the channel for
 * every thread, and the force it was doing fails with {@code ClosedByInterruptException}. For a
 * pool's devices that turns an executor's {@code shutdownNow()} (a timer stopped while its cleanup
 * ran) into a failed fsync, which the pool must then treat as lost writes until a restart. The JDK
 * keeps a switch for its own uses ({@code sun.nio.ch.FileChannelImpl.setUninterruptible()}); the
 * launchers and the jar's manifest open {@code sun.nio.ch} to this code. Without that access the
 * channel stays as it is (logged once) and callers must not interrupt threads doing I/O.
 */
public final class UninterruptibleChannels {
    private static final Logger LOG = LoggerFactory.getLogger(UninterruptibleChannels.class);
    private static volatile boolean warned;

    private UninterruptibleChannels() {
    }

    /** {@code ch}, switched to ignore interrupts when the JDK allows it; true if it was switched. */
    public static boolean apply(FileChannel ch) {
        try {
            Method m = ch.getClass().getDeclaredMethod("setUninterruptible");
            m.setAccessible(true);
            m.invoke(ch);
            return true;
        } catch (ReflectiveOperationException | RuntimeException e) {
            if (!warned) {
                warned = true;
                LOG.warn("file channels stay interruptible ({}): start the JVM with --add-opens "
                        + "java.base/sun.nio.ch=ALL-UNNAMED, as scripts/orion-dedup does", e.toString());
            }
            return false;
        }
    }
}
