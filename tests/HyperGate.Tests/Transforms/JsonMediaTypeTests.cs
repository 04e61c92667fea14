using System.Text;
using HyperGate.Transforms.Json;

namespace HyperGate.Tests.Transforms;

/// <summary>Which Content-Type values are JSON (RFC 9110 §8.3.1: case-insensitive; RFC 6839 §3.1: +json).</summary>
public class JsonMediaTypeTests
{
    [Theory]
    [InlineData("application/json", true)]
    [InlineData("application/json; charset=utf-8", true)]
    [InlineData("Application/JSON;charset=UTF-8", true)]
    [InlineData("application/json\t;\tcharset=utf-8", true)]
    [InlineData("application/problem+json", true)]
    [InlineData("Application/Vnd.Acme.V2+JSON", true)]
    [InlineData("application/+json", false)]
    [InlineData("text/json", false)]
    [InlineData("application/jsonp", false)]
    [InlineData("text/plain", false)]
    [InlineData("", false)]
    public void IsJsonType(string value, bool expected) => Assert.Equal(expected, JsonMediaType.IsJsonType(Encoding.ASCII.GetBytes(value)));
}
