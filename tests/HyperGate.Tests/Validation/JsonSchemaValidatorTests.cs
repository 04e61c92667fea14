using System.Text.Json;
using HyperGate.Validation;

namespace HyperGate.Tests.Validation;

/// <summary>One valid and one invalid document per keyword family, and where each error points.</summary>
public class JsonSchemaValidatorTests
{
    private static List<ValidationError> Validate(string schema, string document)
    {
        JsonSchemaValidator validator = JsonSchemaValidator.Load(schema, "test.json", out string? error) ?? throw new InvalidOperationException(error);
        using JsonDocument parsed = JsonDocument.Parse(document);
        return validator.Validate(parsed.RootElement);
    }

    [Theory]
    [InlineData("""{"type":"integer"}""", "3", "3.5", "")]
    [InlineData("""{"type":["string","null"]}""", "null", "1", "")]
    [InlineData("""{"required":["a"]}""", """{"a":1}""", """{"b":1}""", "")]
    [InlineData("""{"properties":{"a":{"type":"string"}}}""", """{"a":"x"}""", """{"a":1}""", "/a")]
    [InlineData("""{"additionalProperties":false,"properties":{"a":{}}}""", """{"a":1}""", """{"a":1,"b":2}""", "/b")]
    [InlineData("""{"pattern":"^[a-z]+$"}""", "\"abc\"", "\"aBc\"", "")]
    [InlineData("""{"minLength":2,"maxLength":3}""", "\"ab\"", "\"abcd\"", "")]
    [InlineData("""{"minimum":1,"exclusiveMaximum":10}""", "9", "10", "")]
    [InlineData("""{"multipleOf":0.5}""", "1.5", "1.3", "")]
    [InlineData("""{"enum":["a","b"]}""", "\"b\"", "\"c\"", "")]
    [InlineData("""{"const":{"k":1}}""", """{"k":1}""", """{"k":2}""", "")]
    [InlineData("""{"items":{"type":"integer"}}""", "[1,2]", "[1,\"2\"]", "/1")]
    [InlineData("""{"prefixItems":[{"type":"string"}]}""", "[\"a\",1]", "[1]", "/0")]
    [InlineData("""{"minItems":1,"uniqueItems":true}""", "[1,2]", "[1,1]", "")]
    [InlineData("""{"contains":{"const":3}}""", "[1,3]", "[1,2]", "")]
    [InlineData("""{"minProperties":1}""", """{"a":1}""", "{}", "")]
    [InlineData("""{"propertyNames":{"pattern":"^x"}}""", """{"xa":1}""", """{"ya":1}""", "/ya")]
    [InlineData("""{"dependentRequired":{"card":["cvv"]}}""", """{"card":1,"cvv":2}""", """{"card":1}""", "")]
    [InlineData("""{"allOf":[{"minimum":1},{"maximum":3}]}""", "2", "4", "")]
    [InlineData("""{"anyOf":[{"type":"string"},{"type":"integer"}]}""", "1", "true", "")]
    [InlineData("""{"oneOf":[{"minimum":1},{"maximum":3}]}""", "5", "2", "")]
    [InlineData("""{"not":{"type":"null"}}""", "1", "null", "")]
    [InlineData("""{"if":{"properties":{"k":{"const":"a"}}},"then":{"required":["x"]}}""", """{"k":"b"}""", """{"k":"a"}""", "")]
    [InlineData("""{"$defs":{"p":{"type":"integer","minimum":0}},"properties":{"n":{"$ref":"#/$defs/p"}}}""", """{"n":1}""", """{"n":-1}""", "/n")]
    public void KeywordFamilies_AcceptTheValid_RefuseTheInvalid_PointingAtTheValue(string schema, string valid, string invalid, string pointer)
    {
        Assert.Empty(Validate(schema, valid));
        List<ValidationError> errors = Validate(schema, invalid);
        Assert.NotEmpty(errors);
        Assert.Contains(errors, e => e.Pointer == pointer);
    }

    [Fact]
    public void ErrorsAreCapped()
    {
        string document = "[" + string.Join(",", Enumerable.Repeat("\"x\"", 50)) + "]";
        Assert.Equal(JsonSchemaValidator.MaxErrors, Validate("""{"items":{"type":"integer"}}""", document).Count);
    }

    [Theory]
    [InlineData("""{"type": 12}""", "not a usable JSON Schema")]
    [InlineData("{\n \"type\": }", "test.json:2:10: not JSON")]
    public void BrokenSchemas_SayWhy(string schema, string reason)
    {
        Assert.Null(JsonSchemaValidator.Load(schema, "test.json", out string? error));
        Assert.Contains(reason, error);
    }
}
