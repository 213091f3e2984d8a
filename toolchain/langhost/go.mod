module github.com/agent-platform/pulumi-language-nodejs

go 1.24
