package io.orion.dedup.iscsi;

import java.net.InetSocketAddress;
import java.util.List;

/** Runs the transport with a RAM target for manual checks: {@code ManualServer PORT [MiB]}. */
final class ManualServer {

    private ManualServer() {
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        int mib = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        RamScsiTarget scsi = new RamScsiTarget(mib);
        IscsiTargetInfo info = new IscsiTargetInfo("iqn.2026-11.io.orion:test", "test", 1, List.of(), scsi,
                LoginAuthorizer.OPEN);
        IscsiServer server = new IscsiServer(TargetCatalog.of(List.of(info)), IscsiServerOptions.defaults());
        System.out.println("ready " + server.bind(new InetSocketAddress("127.0.0.1", port)));
        Thread.currentThread().join();
    }
}
