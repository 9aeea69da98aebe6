package io.orion.dedup.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sd_notify datagrams arrive on a Unix datagram socket as systemd's would receive them. */
class SystemdNotifyTest {

    @Test
    void readyArrivesOnTheNotifySocket(@TempDir Path dir) throws Exception {
        SystemdNotify.loadNative();
        Path path = dir.resolve("notify");
        Socket receiver = Socket.newSocketDomainDgram();
        try {
            receiver.bind(new DomainSocketAddress(path.toString()));
            SystemdNotify.send(path.toString(), "READY=1\nSTATUS=serving");
            ByteBuffer b = ByteBuffer.allocateDirect(4096);
            receiver.recvFromDomainSocket(b, 0, b.capacity());
            // recvFrom leaves the buffer's position; the datagram is what the kernel wrote from 0
            byte[] got = new byte["READY=1\nSTATUS=serving".length()];
            b.get(0, got);
            assertEquals("READY=1\nSTATUS=serving", new String(got, StandardCharsets.UTF_8));
        } finally {
            receiver.close();
        }
    }

    @Test
    void aSocketNobodyListensOnIsAnError(@TempDir Path dir) {
        assertThrows(IOException.class, () -> SystemdNotify.send(dir.resolve("none").toString(), "READY=1"));
        assertThrows(IOException.class, () -> SystemdNotify.send("relative", "READY=1"));
    }
}
