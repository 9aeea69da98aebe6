package io.orion.dedup.initiator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class IscsiUrlTest {

    @Test
    void parsesHostPortTargetAndLun() {
        IscsiUrl u = IscsiUrl.parse("iscsi://10.0.0.5/iqn.2026-11.io.orion:DB/3");
        assertEquals("10.0.0.5", u.portal().host());
        assertEquals(3260, u.portal().port());
        assertEquals("iqn.2026-11.io.orion:db", u.target(), "names are case-insensitive: stored lower case");
        assertEquals(3, u.lun());
        IscsiUrl v6 = IscsiUrl.parse("ISCSI://[fd00::5]:3270/iqn.2026-11.io.orion:x/300");
        assertEquals("fd00::5", v6.portal().host());
        assertEquals(3270, v6.portal().port());
        assertEquals(300, v6.lun());
        assertEquals("iscsi://[fd00::5]:3270/iqn.2026-11.io.orion:x/300", v6.toString());
    }

    @Test
    void refusesWhatIsNotAUsableUrl() {
        String[] bad = {"iscsi://", "iscsi://host", "iscsi://host/iqn.2026-11.io.orion:x", "iscsi://host/iqn.2026-11.io.orion:x/",
            "iscsi://host/iqn.2026-11.io.orion:x/a", "iscsi://host/iqn.2026-11.io.orion:x/16384", "iscsi://host/not-a-name/0",
            "iscsi://u%s@host/iqn.2026-11.io.orion:x/0", "iscsi://host:99999/iqn.2026-11.io.orion:x/0"};
        for (String b : bad) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IscsiUrl.parse(b), b);
            assertTrue(e.getMessage().contains("'" + b + "'") || e.getMessage().contains(b), e.getMessage());
        }
        assertFalse(IscsiUrl.looksLike("/dev/sdb"));
    }
}
