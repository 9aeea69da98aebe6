package io.orion.dedup.iscsi.login;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class KeyNegotiatorTest {

    private final KeyNegotiator negotiator = new KeyNegotiator(Map.of(
            "MaxBurstLength", "1048576", "FirstBurstLength", "262144", "InitialR2T", "No",
            "ImmediateData", "Yes", "MaxConnections", "8", "DefaultTime2Wait", "2", "ErrorRecoveryLevel", "0",
            "DataPDUInOrder", "Yes", "OFMarker", "No", "MaxOutstandingR2T", "4"));

    /** key, offer, expected answer ("-" for none), expected result ("-" when refused). */
    @ParameterizedTest(name = "{0}={1} -> {2}")
    @CsvSource(delimiter = '|', value = {
        // MIN numbers
        "MaxBurstLength|262144|262144|262144",
        "MaxBurstLength|16776192|1048576|1048576",
        "MaxBurstLength|0x40000|262144|262144",
        "MaxBurstLength|511|Reject|-",
        "MaxBurstLength|16777216|Reject|-",
        "MaxBurstLength|12ab|Reject|-",
        "MaxBurstLength|-5|Reject|-",
        "FirstBurstLength|65536|65536|65536",
        "MaxConnections|1|1|1",
        "MaxConnections|16|8|8",
        "MaxConnections|0|Reject|-",
        "ErrorRecoveryLevel|2|0|0",
        "ErrorRecoveryLevel|3|Reject|-",
        "MaxOutstandingR2T|1|1|1",
        "DefaultTime2Retain|30|20|20",
        // MAX number
        "DefaultTime2Wait|0|2|2",
        "DefaultTime2Wait|10|10|10",
        "DefaultTime2Wait|3601|Reject|-",
        // OR / AND booleans
        "InitialR2T|Yes|Yes|Yes",
        "InitialR2T|No|No|No",
        "ImmediateData|No|No|No",
        "ImmediateData|Yes|Yes|Yes",
        "DataPDUInOrder|No|Yes|Yes",
        "OFMarker|Yes|No|No",
        "IFMarker|Yes|No|No",
        "ImmediateData|yes|Reject|-",
        "RDMAExtensions|Yes|No|No",
        // lists: the initiator's order wins among what we support
        "HeaderDigest|None,CRC32C|None|None",
        "HeaderDigest|CRC32C,None|CRC32C|CRC32C",
        "HeaderDigest|MD5|Reject|-",
        "DataDigest|CRC32C|CRC32C|CRC32C",
        "TaskReporting|FastAbort,RFC3720|RFC3720|RFC3720",
        // declarative
        "MaxRecvDataSegmentLength|65536|-|65536",
        "MaxRecvDataSegmentLength|100|Reject|-",
        "InitiatorAlias|host1|-|host1",
        "SessionType|Normal|-|Normal",
        "SessionType|Bogus|Reject|-",
        // target-only, irrelevant, unknown
        "TargetAddress|1.2.3.4:3260,1|Reject|-",
        "TargetPortalGroupTag|1|Reject|-",
        "OFMarkInt|1~65535|Irrelevant|-",
        "iSCSIProtocolLevel|2|1|1",
        "X-com.example.Foo|1|NotUnderstood|-",
        "Frobnicate|Yes|NotUnderstood|-",
    })
    void negotiates(String key, String offer, String answer, String result) {
        KeyNegotiator.Outcome o = negotiator.negotiate(key, LoginKey.find(key), offer.replace('~', '-'));
        assertEquals("-".equals(answer) ? null : answer, o.answer(), "answer");
        assertEquals("-".equals(result) ? null : result, o.result(), "result");
    }
}
