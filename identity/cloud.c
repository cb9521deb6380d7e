/*
 * cloud.c - the national clouds' endpoints, one table for every backend
 * that signs in to Entra ID (graph/, keyvault/).
 */
#include "identity/identity.h"

#include <stddef.h>
#include <strings.h>

/*
 * Sign-in, Graph, the vault DNS suffix, the vault token resource
 * (key-vault.md; US Gov's derived) and ARM (Azure/azure-cli cloud.py).
 * DoD shares US Gov's sign-in, vault and ARM hosts; its Graph is its own.
 */
static const struct id_cloud clouds[] = {
	{ "global", "https://login.microsoftonline.com",
	  "https://graph.microsoft.com", ".vault.azure.net",
	  "https://vault.azure.net", "https://management.azure.com" },
	{ "usgov", "https://login.microsoftonline.us",
	  "https://graph.microsoft.us", ".vault.usgovcloudapi.net",
	  "https://vault.usgovcloudapi.net",
	  "https://management.usgovcloudapi.net" },
	{ "dod", "https://login.microsoftonline.us",
	  "https://dod-graph.microsoft.us", ".vault.usgovcloudapi.net",
	  "https://vault.usgovcloudapi.net",
	  "https://management.usgovcloudapi.net" },
	{ "china", "https://login.chinacloudapi.cn",
	  "https://microsoftgraph.chinacloudapi.cn", ".vault.azure.cn",
	  "https://vault.azure.cn", "https://management.chinacloudapi.cn" },
};

const struct id_cloud *
id_cloud_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return &clouds[0];
	for (i = 0; i < sizeof(clouds) / sizeof(clouds[0]); i++)
		if (strcasecmp(name, clouds[i].name) == 0)
			return &clouds[i];
	return NULL;
}
