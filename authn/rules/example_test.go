package rules_test

import (
	"context"
	"fmt"

	"github.com/xgate/xgate/authn"
	"github.com/xgate/xgate/authn/rules"
)

func Example() {
	list, err := rules.ParseACLFile(`
%% devices publish under their own id
{allow, all, publish, ["devices/${clientid}/#"]}.
{deny, all}.
`)
	if err != nil {
		panic(err)
	}
	set, err := rules.Compile(list)
	if err != nil {
		panic(err)
	}
	c := &authn.Client{ClientID: "dev1"}
	for _, topic := range []string{"devices/dev1/temp", "devices/dev2/temp"} {
		d, index, _ := set.Check(context.Background(), c, authn.Request{Action: authn.Publish, Topic: topic})
		fmt.Println(topic, d == authn.Allow, index)
	}
	fmt.Println(list[0].ACL())
	// Output:
	// devices/dev1/temp true 0
	// devices/dev2/temp false 1
	// %% devices publish under their own id
	// {allow, all, publish, ["devices/${clientid}/#"]}.
}
