package io.orion.dedup.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class NexusTest {
    @Test
    void iscsiPortNamesFollowRfc7143() {
        Nexus n = Nexus.iscsi("iqn.1994-05.com.redhat:client", 0x23d000000001L, "iqn.2026-11.io.orion:default", 1);
        assertEquals("iqn.1994-05.com.redhat:client,i,0x23d000000001", n.initiatorPort());
        assertEquals("iqn.2026-11.io.orion:default,t,0x0001", n.targetPort());
        assertEquals(1, n.relativeTargetPort());
    }
}
