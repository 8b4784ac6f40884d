import Testing

@testable import PGSinkCore

/// Debezium's encodings (reference/debezium.md §6), as its PostgreSQL connector documents them.
@Suite("Debezium types")
struct DebeziumTypeTests {
    @Test func schemaNamesPickTheColumnTypeAndTheDecoding() {
        #expect(DebeziumType(connectType: "int32", name: "io.debezium.time.Date") == DebeziumType(columnType: .date, decoding: .epochDays))
        #expect(DebeziumType(connectType: "int64", name: "io.debezium.time.MicroTimestamp").decoding == .epochTimestamp(perSecond: 1_000_000))
        #expect(DebeziumType(connectType: "int64", name: "io.debezium.time.MicroTime").columnType == .other("time without time zone"))
        #expect(DebeziumType(connectType: "string", name: "io.debezium.time.ZonedTimestamp") == DebeziumType(columnType: .timestamptz))
        #expect(
            DebeziumType(connectType: "bytes", name: "org.apache.kafka.connect.data.Decimal", parameters: ["scale": "2"])
                == DebeziumType(columnType: .numeric, decoding: .decimal(scale: 2)))
        #expect(DebeziumType(connectType: "struct", name: "io.debezium.data.VariableScaleDecimal").decoding == .variableScaleDecimal)
        #expect(DebeziumType(connectType: "string", name: "io.debezium.data.Json").columnType == .jsonb)
        #expect(DebeziumType(connectType: "string", name: "io.debezium.data.Uuid").columnType == .uuid)
        #expect(DebeziumType(connectType: "int16", name: nil).columnType == .smallint)
        #expect(DebeziumType(connectType: "int64", name: nil).columnType == .bigint)
        #expect(DebeziumType(connectType: "float64", name: nil).columnType == .double)
        #expect(DebeziumType(connectType: "bytes", name: nil) == DebeziumType(columnType: .other("bytea"), decoding: .base64Bytes))
        #expect(DebeziumType(connectType: "string", name: "io.debezium.data.Enum").columnType == .text)
    }

    @Test func datesTimesAndTimestamps() {
        #expect(DebeziumValue.date(epochDays: 0) == "1970-01-01")
        #expect(DebeziumValue.date(epochDays: 19_753) == "2024-01-31")
        #expect(DebeziumValue.date(epochDays: -1) == "1969-12-31")
        #expect(DebeziumValue.time(45_296_789, perSecond: 1_000) == "12:34:56.789")
        #expect(DebeziumValue.time(45_296_000_001, perSecond: 1_000_000) == "12:34:56.000001")
        #expect(DebeziumValue.time(45_296_000_001_999, perSecond: 1_000_000_000) == "12:34:56.000001")
        #expect(DebeziumValue.time(0, perSecond: 1_000) == "00:00:00")
        #expect(DebeziumValue.time(86_400_000, perSecond: 1_000) == "24:00:00")
        #expect(DebeziumValue.time(-1, perSecond: 1_000) == nil)
        #expect(DebeziumValue.timestamp(1_706_704_496_789, perSecond: 1_000) == "2024-01-31T12:34:56.789")
        #expect(DebeziumValue.timestamp(1_706_704_496_000_123, perSecond: 1_000_000) == "2024-01-31T12:34:56.000123")
        #expect(DebeziumValue.timestamp(-1, perSecond: 1_000_000) == "1969-12-31T23:59:59.999999")
        #expect(DebeziumValue.timestamp(-1, perSecond: 1_000_000_000) == "1969-12-31T23:59:59.999999")
        #expect(DebeziumValue.timestamp(Int64.max, perSecond: 1_000) == nil)
        #expect(DebeziumValue.interval(microseconds: 90_000_000) == "90000000 microseconds")
    }

    @Test func decimalsFromTwosComplementBytes() throws {
        // 12345 = 0x3039; -12345 = 0xCFC7.
        #expect(DebeziumValue.decimal(twosComplement: [0x30, 0x39], scale: 2) == "123.45")
        #expect(DebeziumValue.decimal(twosComplement: [0xCF, 0xC7], scale: 2) == "-123.45")
        #expect(DebeziumValue.decimal(twosComplement: [0x05], scale: 3) == "0.005")
        #expect(DebeziumValue.decimal(twosComplement: [0xFF], scale: 0) == "-1")
        #expect(DebeziumValue.decimal(twosComplement: [0x00], scale: 0) == "0")
        #expect(DebeziumValue.decimal(twosComplement: [0x80], scale: 0) == "-128")
        #expect(DebeziumValue.decimal(twosComplement: [], scale: 0) == nil)
        // 2^64 needs nine bytes: more than any machine integer.
        #expect(DebeziumValue.decimal(twosComplement: [0x01, 0, 0, 0, 0, 0, 0, 0, 0], scale: 4) == "1844674407370955.1616")
        // Debezium's own example: 1.05 with scale 2 is "AGk=" (0x0069 = 105).
        let bytes = try #require(DebeziumValue.base64("AGk="))
        #expect(DebeziumValue.decimal(twosComplement: bytes, scale: 2) == "1.05")
    }

    @Test func base64AndBytea() {
        #expect(DebeziumValue.base64("AQID") == [1, 2, 3])
        #expect(DebeziumValue.base64("AQI=") == [1, 2])
        #expect(DebeziumValue.base64("AQ==") == [1])
        #expect(DebeziumValue.base64("AQ") == [1])
        #expect(DebeziumValue.base64("-_8") == [0xFB, 0xFF])
        #expect(DebeziumValue.base64("") == [])
        #expect(DebeziumValue.base64("A*==") == nil)
        #expect(DebeziumValue.base64("AQ==AQ") == nil)
        #expect(DebeziumValue.base64("A") == nil)
        #expect(DebeziumValue.byteaText([0x01, 0xAB, 0xFF]) == #"\x01abff"#)
    }
}
