module github.com/segmentio/backo-go

go 1.13
