// MedClass on Azure: several App Service instances behind one address on one Azure Database
// for PostgreSQL Flexible Server, the server's identity key and the database URL in Key Vault
// (Key Vault reference app settings), and the web app on Static Web Apps. See docs/deploy.md.
//
// Not compiled by this repository's tests: neither the Bicep CLI nor Azure is reachable from its
// machines. Check it with `az bicep build --file docs/azure/main.bicep` and
// `az deployment group what-if` before the first deployment. test/deploy_template.test.ts only
// checks that it sets what the server reads and that its brackets balance.

@description('Region of the server, database and vault.')
param location string = resourceGroup().location

@description('Region of the static web app (Static Web Apps runs in a few regions only).')
param staticWebAppLocation string = 'westeurope'

@description('Prefix of every resource name; the server is https://<prefix>-server.azurewebsites.net.')
@minLength(3)
@maxLength(16)
param prefix string = 'medclass'

@description('Server instances behind the one address (App Service scale-out).')
@minValue(1)
@maxValue(10)
param instances int = 3

@description('Postgres administrator login.')
param postgresAdmin string = 'medclass'

@secure()
@description('Postgres administrator password.')
param postgresPassword string

@secure()
@description('The server identity key: the PKCS#8 PEM from `medclass identity --new --out identity.pem`.')
param identityKeyPem string

@secure()
@description('The first admin\'s password (at least 12 characters), used on the very first start only.')
param adminPassword string

@description('Addresses or CIDR ranges of the App Service front ends whose X-Forwarded-For gives the client address.')
param trustedProxies string = ''

var serverName = '${prefix}-server'
var databaseName = 'medclass'
// Key Vault Secrets User: read secret values, nothing else
var secretsUserRole = '4633458b-17de-408a-b874-0445c86b69e6'

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2022-12-01' = {
  name: '${prefix}-pg'
  location: location
  sku: {
    name: 'Standard_D2ds_v4'
    tier: 'GeneralPurpose'
  }
  properties: {
    version: '15'
    administratorLogin: postgresAdmin
    administratorLoginPassword: postgresPassword
    storage: {
      storageSizeGB: 32
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'ZoneRedundant'
    }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2022-12-01' = {
  parent: postgres
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// Public access limited to Azure's own addresses (0.0.0.0 means "Azure services"). A hospital
// network would rather put the server in a virtual network with private access.
resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2022-12-01' = {
  parent: postgres
  name: 'AllowAzureServices'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: '${prefix}-kv'
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    enablePurgeProtection: true
  }
}

resource identitySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'medclass-identity-key'
  properties: {
    value: identityKeyPem
    contentType: 'application/x-pem-file'
  }
}

// TLS is required by the server (require_secure_transport); verify-full checks its certificate
resource databaseUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'medclass-database-url'
  properties: {
    value: 'postgres://${postgresAdmin}:${uriComponent(postgresPassword)}@${postgres.properties.fullyQualifiedDomainName}:5432/${databaseName}?sslmode=verify-full'
  }
}

resource adminPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'medclass-admin-password'
  properties: {
    value: adminPassword
  }
}

resource plan 'Microsoft.Web/serverfarms@2023-01-01' = {
  name: '${prefix}-plan'
  location: location
  kind: 'linux'
  sku: {
    name: 'P1v3'
    capacity: instances
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/staticSites@2023-01-01' = {
  name: '${prefix}-web'
  location: staticWebAppLocation
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {}
}

resource server 'Microsoft.Web/sites@2023-01-01' = {
  name: serverName
  location: location
  kind: 'app,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // every request and channel may go to any instance: state is in the database
    clientAffinityEnabled: false
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      linuxFxVersion: 'NODE|20-lts'
      appCommandLine: 'node server/medclass.js serve --host 0.0.0.0 --port 8080 --no-demo --data /home/medclass-data --allow-origin https://${site.properties.defaultHostname}'
      webSocketsEnabled: true
      alwaysOn: true
      healthCheckPath: '/readyz'
      http20Enabled: true
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: [
        {
          name: 'MEDCLASS_DATABASE_URL'
          value: '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=${databaseUrlSecret.name})'
        }
        {
          name: 'MEDCLASS_IDENTITY_KEY'
          value: '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=${identitySecret.name})'
        }
        {
          name: 'MEDCLASS_ADMIN_PASSWORD'
          value: '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=${adminPasswordSecret.name})'
        }
        {
          name: 'MEDCLASS_TRUSTED_PROXIES'
          value: trustedProxies
        }
        {
          // the package is built before deployment (npm ci && npm run build): nothing to build here
          name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
          value: 'false'
        }
        {
          name: 'WEBSITE_RUN_FROM_PACKAGE'
          value: '1'
        }
        {
          // an instance failing /readyz this many minutes in a row is taken out of the rotation
          name: 'WEBSITE_HEALTHCHECK_MAXPINGFAILURES'
          value: '2'
        }
      ]
    }
  }
}

resource serverReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, server.id, secretsUserRole)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRole)
    principalId: server.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output serverUrl string = 'https://${server.properties.defaultHostName}'
output webAppUrl string = 'https://${site.properties.defaultHostname}'
output postgresHost string = postgres.properties.fullyQualifiedDomainName
