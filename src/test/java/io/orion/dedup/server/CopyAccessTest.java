package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.TargetAttributes;
import io.orion.dedup.config.TargetDefinition;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Who may name a LUN of target B in an EXTENDED COPY or WRITE USING TOKEN sent through a session:
 * B's ACLs decide, and a session logged in to another target A may reach B only when B asks for no
 * authentication of that initiator (A's login authenticated the initiator name for A only).
 */
class CopyAccessTest {

    private static final String A = "iqn.2026-11.io.orion:open-demo";
    private static final String B = "iqn.2026-11.io.orion:b";
    private static final String VICTIM = "iqn.2026-11.test:victim";
    private static final ChapCredentials CHAP = new ChapCredentials("victim", "victimsecret12", null, null);

    private static AclAuthorizer b(List<AclDefinition> acls, ChapCredentials targetChap, TargetAttributes attributes) {
        return new AclAuthorizer(new TargetDefinition(B, null, List.of(),
                List.of(LunDefinition.dedup(0, "v0", 1 << 20, 512)), acls, targetChap, null, attributes));
    }

    @Test
    void anotherTargetsLoginDoesNotPassTheChapOfTheAclOfB() {
        AclAuthorizer t = b(List.of(new AclDefinition(VICTIM, List.of(0), false, CHAP)), null,
                new TargetAttributes(false, false, 0));
        // an attacker logged in to the open demo-mode target A calling itself the victim
        assertFalse(t.mayCopy(VICTIM, A, 0, false), "read B's LUN through A");
        assertFalse(t.mayCopy(VICTIM, A, 0, true), "overwrite B's LUN through A");
        // the victim's own session on B passed B's CHAP
        assertTrue(t.mayCopy(VICTIM, B, 0, true));
    }

    @Test
    void aDemoModeTargetWithAuthenticationIsNotOpenToOtherTargetsSessions() {
        AclAuthorizer t = b(List.of(), CHAP, new TargetAttributes(true, true, 0));
        assertFalse(t.mayCopy(VICTIM, A, 0, false));
        assertFalse(t.mayCopy("iqn.2026-11.test:anyone", A, 0, true));
        assertTrue(t.mayCopy(VICTIM, B, 0, true), "a session on B itself passed the target-wide CHAP");
    }

    @Test
    void aTargetAskingNoAuthenticationIsReachableFromOtherTargetsAsItsAclsSay() {
        AclAuthorizer demo = b(List.of(), null, new TargetAttributes(false, true, 0));
        assertTrue(demo.mayCopy(VICTIM, A, 0, true));
        AclAuthorizer acl = b(List.of(new AclDefinition(VICTIM, List.of(0), true, null)), null,
                new TargetAttributes(false, false, 0));
        assertTrue(acl.mayCopy(VICTIM, A, 0, false));
        assertFalse(acl.mayCopy(VICTIM, A, 0, true), "write-protected ACL");
        assertFalse(acl.mayCopy(VICTIM, A, 1, false), "unmapped LUN");
        assertFalse(acl.mayCopy("iqn.2026-11.test:stranger", A, 0, false), "no ACL, no demo mode");
    }
}
